// A cocktail-space map (cocktail-space or cocktail-space-em): every recipe
// as a point at the UMAP coordinates the snapshot holds. Zoom and pan
// (wheel, pinch, drag, or the buttons), hover for the name, a search that
// highlights and centres a recipe, colour by a chosen property, click for
// the recipe's nearest neighbours. Zoom, highlight and selection survive
// live redraws: points are matched by recipe_id and the view is kept.
import { d3 } from '../d3.js';
import { analytic } from '../api.js';
import { hideTooltip, single, svgIn, withTooltip } from '../dom.js';
import { ingredients } from '../ingredients.js';
import { Panel } from '../panel.js';

const PAD = 14;
const RADIUS = 3.5;
const RADIUS_MARKED = 6;
const OTHER = '#b8bcc4';

// Fills the map's <section> from index.html's #map-panel template.
function build(id, name) {
  const section = document.getElementById(`panel-${id}`);
  section.append(document.getElementById('map-panel').content.cloneNode(true));
  section.querySelector('h2').textContent = name;
  section.querySelector('.hint').textContent = section.dataset.hint;
  const list = `recipe-names-${id}`;
  section.querySelector('datalist').id = list;
  section.querySelector('.search-input').setAttribute('list', list);
}

export class SpacePanel extends Panel {
  constructor(id, type, name, { tracker, onSelect }) {
    build(id, name);
    super(id, name);
    this.type = type;
    this.files = [type, 'ingredient-tree'];
    this.tracker = tracker;
    this.onSelect = onSelect;
    this.points = [];
    this.base = null; // data domain of the unzoomed view, kept across redraws
    this.transform = d3.zoomIdentity;
    this.highlightId = null;
    this.selectedId = null;
    this.neighbourIds = new Set();
    this.colourBy = 'root';
    this.found = this.root.querySelector('.found');
    this.legend = this.root.querySelector('.legend');
    this.input = this.root.querySelector('.search-input');
    this.names = this.root.querySelector('datalist');
    this.root.querySelector('.search').addEventListener('submit', (e) => {
      e.preventDefault();
      this.search(this.input.value);
    });
    this.colourSelect = this.root.querySelector('.colour');
    this.colourSelect.addEventListener('change', () => {
      this.colourBy = this.colourSelect.value;
      this.recolour();
    });
    this.zoom = d3.zoom().scaleExtent([0.5, 60]).on('zoom', () => {
      this.transform = d3.event.transform;
      this.place();
    });
    const zoomBy = (k) => this.svg && this.svg.transition().duration(250).call(this.zoom.scaleBy, k);
    this.root.querySelector('.zoom-in').addEventListener('click', () => zoomBy(1.6));
    this.root.querySelector('.zoom-out').addEventListener('click', () => zoomBy(1 / 1.6));
    this.root.querySelector('.zoom-reset').addEventListener('click', () => {
      this.base = null;
      this.transform = d3.zoomIdentity;
      this.render(true);
    });
  }

  async load() {
    // The tree only names roots for the colours: the map draws without it.
    const [r, ing] = await Promise.all([analytic(this.type), ingredients().catch(() => null)]);
    this.points = r.body.data;
    this.meta = r.body.metadata;
    this.index = ing ? ing.index : null;
    if (r.changed) {
      this.byId = new Map(this.points.map((p) => [p.recipe_id, p]));
      this.names.replaceChildren(
        ...this.points.map((p) => {
          const o = document.createElement('option');
          o.value = p.recipe_name;
          return o;
        }),
      );
    }
    return r.changed || Boolean(ing && ing.changed);
  }

  // The map's bytes are large: when only the ingredient tree changed (the
  // fast lane carries the maps forward), recolour instead of refetching.
  update(changed) {
    if (changed.includes(this.type) || !this.hasData) return this.refresh();
    return ingredients()
      .then((ing) => {
        this.index = ing.index;
        this.recolour();
      })
      .catch(() => null);
  }

  draw(width) {
    const height = Math.round(Math.max(320, Math.min(640, width * 0.68)));
    this.width = width;
    this.height = height;
    if (!this.points.length) {
      d3.select(this.chart).selectAll('svg').remove();
      this.legend.replaceChildren();
      return 'No recipe has a position yet (the catalog has no recipes with ingredients).';
    }
    if (!this.base) {
      const pad = (lo, hi) => {
        const d = (hi - lo) * 0.04 || 1;
        return [lo - d, hi + d];
      };
      this.base = {
        x: pad(...d3.extent(this.points, (p) => p.x)),
        y: pad(...d3.extent(this.points, (p) => p.y)),
      };
    }
    this.x0 = d3.scaleLinear().domain(this.base.x).range([PAD, width - PAD]);
    this.y0 = d3.scaleLinear().domain(this.base.y).range([height - PAD, PAD]);

    const svg = svgIn(this.chart, width, height, `${this.name}: ${this.points.length} recipes`);
    this.svg = svg;
    const clipId = `clip-${this.id}`;
    svg
      .selectAll('clipPath')
      .data([null])
      .join('clipPath')
      .attr('id', clipId)
      .selectAll('rect')
      .data([null])
      .join('rect')
      .attr('width', width)
      .attr('height', height);
    this.layer = single(svg, 'g', 'points')
      .attr('clip-path', `url(#${clipId})`);
    this.circles = this.layer
      .selectAll('circle.point')
      .data(this.points, (p) => p.recipe_id)
      .join((enter) => enter.append('circle').attr('class', 'point').attr('r', RADIUS))
      .attr('data-id', (p) => p.recipe_id)
      .on('click', (p) => {
        hideTooltip();
        this.select(p);
      });
    withTooltip(this.circles, (p) => [
      p.recipe_name,
      p.ingredients.slice(0, 6).join(', ') + (p.ingredients.length > 6 ? ', …' : ''),
    ]);
    svg.call(this.zoom).call(this.zoom.transform, this.transform);
    this.recolour();
    this.mark();
    return null;
  }

  place() {
    if (!this.circles) return;
    const zx = this.transform.rescaleX(this.x0);
    const zy = this.transform.rescaleY(this.y0);
    this.circles.attr('cx', (p) => zx(p.x)).attr('cy', (p) => zy(p.y));
  }

  colourOf() {
    if (this.colourBy === 'count') {
      const [lo, hi] = d3.extent(this.points, (p) => p.ingredients.length);
      const scale = d3.scaleSequential(d3.interpolateViridis).domain([lo, Math.max(hi, lo + 1)]);
      const steps = [...new Set([lo, Math.round((lo + hi) / 2), hi])];
      return {
        fill: (p) => scale(p.ingredients.length),
        legend: steps.map((n) => ({ label: `${n} ingredients`, colour: scale(n) })),
      };
    }
    if (this.colourBy === 'root' && this.index) {
      const rootOf = (p) => this.index.rootOfName.get(p.ingredients[0]) || 'other';
      const tally = d3
        .nest()
        .key(rootOf)
        .rollup((v) => v.length)
        .entries(this.points)
        .sort((a, b) => b.value - a.value || d3.ascending(a.key, b.key));
      const top = tally.filter((t) => t.key !== 'other').slice(0, 9).map((t) => t.key);
      const scale = d3.scaleOrdinal().domain(top).range(d3.schemeTableau10);
      const fill = (p) => {
        const r = rootOf(p);
        return top.includes(r) ? scale(r) : OTHER;
      };
      const legend = top.map((r) => ({ label: r, colour: scale(r) }));
      if (tally.length > top.length) legend.push({ label: 'other', colour: OTHER });
      return { fill, legend };
    }
    return { fill: () => '#2f6fb3', legend: [] };
  }

  recolour() {
    if (!this.circles) return;
    const { fill, legend } = this.colourOf();
    this.circles.attr('fill', fill);
    this.legend.replaceChildren(
      ...legend.map((l) => {
        const item = document.createElement('span');
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = l.colour;
        item.append(sw, l.label);
        return item;
      }),
    );
  }

  // Classes for the highlighted, selected and neighbouring points.
  mark() {
    if (!this.circles) return;
    this.circles
      .classed('highlight', (p) => p.recipe_id === this.highlightId)
      .classed('selected', (p) => p.recipe_id === this.selectedId)
      .classed('neighbour', (p) => this.neighbourIds.has(p.recipe_id))
      .attr('r', (p) => (p.recipe_id === this.selectedId || p.recipe_id === this.highlightId ? RADIUS_MARKED : RADIUS));
    this.layer.classed('dimmed', this.highlightId !== null || this.selectedId !== null);
    this.circles.filter((p) => this.neighbourIds.has(p.recipe_id)).raise();
    this.circles.filter((p) => p.recipe_id === this.selectedId || p.recipe_id === this.highlightId).raise();
    this.place();
  }

  search(text) {
    const q = text.trim().toLowerCase();
    if (!q) return;
    const byName = (f) => this.points.find((p) => f(p.recipe_name.toLowerCase()));
    const hit = byName((n) => n === q) || byName((n) => n.startsWith(q)) || byName((n) => n.includes(q));
    this.tracker.track('search', this.id, 'search', { query: text.trim(), found: Boolean(hit) });
    if (!hit) {
      this.highlightId = null;
      this.found.textContent = `No recipe matches “${text.trim()}”.`;
      this.mark();
      return;
    }
    this.highlightId = hit.recipe_id;
    const line = document.createElement('span');
    line.textContent = `Found ${hit.recipe_name}. `;
    const open = document.createElement('button');
    open.type = 'button';
    open.textContent = 'Show similar recipes';
    open.addEventListener('click', () => this.select(hit));
    this.found.replaceChildren(line, open);
    this.mark();
    this.centre(hit);
  }

  centre(p) {
    if (!this.svg) return;
    const k = Math.max(this.transform.k, 3);
    const t = d3.zoomIdentity
      .translate(this.width / 2 - k * this.x0(p.x), this.height / 2 - k * this.y0(p.y))
      .scale(k);
    this.svg.transition().duration(400).call(this.zoom.transform, t);
  }

  select(p) {
    this.selectedId = p.recipe_id;
    this.mark();
    this.onSelect(p.recipe_id, p.recipe_name, this);
  }

  clearSelection() {
    this.selectedId = null;
    this.neighbourIds = new Set();
    this.mark();
  }

  showNeighbours(ids) {
    this.neighbourIds = new Set(ids);
    this.mark();
  }
}
