// Similar recipes: a recipe's nearest neighbours under the EM distances
// (GET recipe-similar?recipe_id=&limit=), and for the chosen neighbour its
// transport plan drawn as flows: this recipe's ingredients on the left, the
// neighbour's on the right, one band per flow of the optimal plan, as wide
// as the share of the recipe it moves. Grey bands keep mass on the same
// ingredient; coloured ones are substitutions (which ingredient stands in
// for which, and how much).
import { d3 } from '../d3.js';
import { analytic, ApiError } from '../api.js';
import { fitText, fraction, single, svgIn, withTooltip } from '../dom.js';
import { ingredients } from '../ingredients.js';

const LIMIT = 10;

export class SimilarPanel {
  constructor({ tracker, onNeighbours, onClose }) {
    this.root = document.getElementById('similar');
    this.stateEl = this.root.querySelector('.state');
    this.list = this.root.querySelector('.neighbours');
    this.flowTitle = this.root.querySelector('.flow-title');
    this.chart = this.root.querySelector('.flows');
    this.title = this.root.querySelector('#similar-title');
    this.tracker = tracker;
    this.onNeighbours = onNeighbours;
    this.files = ['recipe-similar', 'ingredient-tree'];
    this.recipeId = null;
    this.neighbourId = null;
    this.data = null;
    this.meta = null;
    this.name = 'Similar';
    this.retryTimer = null;
    this.root.querySelector('.close').addEventListener('click', () => onClose());
  }

  setState(kind, text) {
    this.stateEl.dataset.kind = kind;
    this.stateEl.textContent = text;
    this.root.dataset.state = kind || 'drawn';
  }

  open(recipeId, name, source) {
    if (recipeId !== this.recipeId) this.neighbourId = null;
    this.recipeId = recipeId;
    this.title.textContent = `Similar to ${name}`;
    this.tracker.track('recipe_opened', source, 'open', { recipe_id: recipeId, recipe_name: name });
    return this.refresh();
  }

  close() {
    this.recipeId = null;
    this.data = null;
    this.meta = null;
    clearTimeout(this.retryTimer);
  }

  async refresh() {
    if (this.recipeId === null) return;
    clearTimeout(this.retryTimer);
    const id = this.recipeId;
    if (!this.data) this.setState('loading', 'Loading…');
    try {
      const [r, ing] = await Promise.all([
        analytic('recipe-similar', { recipe_id: id, limit: LIMIT }),
        ingredients(),
      ]);
      if (id !== this.recipeId) return; // another recipe was chosen meanwhile
      this.data = r.body.data;
      this.meta = r.body.metadata;
      this.index = ing.index;
      this.draw();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 404) {
        this.data = null;
        this.list.replaceChildren();
        d3.select(this.chart).selectAll('svg').remove();
        this.flowTitle.textContent = '';
        this.setState('notice', 'This recipe has no neighbours in the current snapshot (it may have been deleted, or has no ingredients).');
        return;
      }
      const wait = e.retryAfter || 2;
      this.setState(e.computing ? 'computing' : 'error', `${e.computing ? 'Computing… ' : ''}${e.message}. Trying again in ${wait} s.`);
      this.retryTimer = setTimeout(() => this.refresh(), wait * 1000);
    }
  }

  // Only the ingredient names changed (a new ingredient-tree): redraw with them.
  async relabel() {
    try {
      this.index = (await ingredients()).index;
    } catch (_) {
      return; // the names in the plan itself serve meanwhile
    }
    if (this.data) this.draw();
  }

  nameOf(id, fallback) {
    return (this.index && this.index.nameOf.get(id)) || fallback || `#${id}`;
  }

  draw() {
    const neighbours = this.data.neighbors || [];
    this.onNeighbours(neighbours.map((n) => n.neighbor_recipe_id));
    if (!neighbours.length) {
      this.list.replaceChildren();
      d3.select(this.chart).selectAll('svg').remove();
      this.flowTitle.textContent = '';
      this.setState('empty', 'No neighbours stored for this recipe.');
      return;
    }
    this.setState('', '');
    if (!neighbours.some((n) => n.neighbor_recipe_id === this.neighbourId)) {
      this.neighbourId = neighbours[0].neighbor_recipe_id;
    }
    const maxDistance = d3.max(neighbours, (n) => n.distance) || 1;
    this.list.replaceChildren(
      ...neighbours.map((n) => {
        const li = document.createElement('li');
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'neighbour';
        b.dataset.id = n.neighbor_recipe_id;
        b.setAttribute('aria-pressed', String(n.neighbor_recipe_id === this.neighbourId));
        const name = document.createElement('span');
        name.textContent = n.neighbor_name;
        const bar = document.createElement('span');
        bar.className = 'distance-bar';
        bar.style.width = `${Math.max(4, (100 * n.distance) / maxDistance)}%`;
        const dist = document.createElement('span');
        dist.className = 'distance';
        dist.textContent = n.distance.toFixed(3);
        b.title = `EM distance ${n.distance}`;
        b.append(name, bar, dist);
        b.addEventListener('click', () => {
          this.neighbourId = n.neighbor_recipe_id;
          this.draw();
        });
        li.append(b);
        return li;
      }),
    );
    const chosen = neighbours.find((n) => n.neighbor_recipe_id === this.neighbourId);
    this.flowTitle.textContent = `${this.data.recipe_name} → ${chosen.neighbor_name} (distance ${chosen.distance.toFixed(3)})`;
    this.drawFlows(chosen);
  }

  // Flows as [from, to, mass]; older snapshots without the whole plan give
  // the top substitutions only.
  flowsOf(n) {
    const names = new Map();
    for (const t of n.transport_plan || []) {
      names.set(t.from_ingredient_id, t.from_ingredient_name);
      names.set(t.to_ingredient_id, t.to_ingredient_name);
    }
    const flows = n.flows || (n.transport_plan || []).map((t) => [t.from_ingredient_id, t.to_ingredient_id, t.mass]);
    return flows.map(([from, to, mass]) => ({
      from,
      to,
      mass,
      fromName: this.nameOf(from, names.get(from)),
      toName: this.nameOf(to, names.get(to)),
    }));
  }

  drawFlows(neighbour) {
    const flows = this.flowsOf(neighbour);
    const width = Math.max(260, Math.floor(this.chart.getBoundingClientRect().width));
    const side = (key) => {
      const m = new Map();
      for (const f of flows) m.set(f[key], (m.get(f[key]) || 0) + f.mass);
      return [...m.entries()].map(([id, mass]) => ({ id, mass }));
    };
    const left = side('from').sort((a, b) => b.mass - a.mass);
    const leftIndex = new Map(left.map((n, i) => [n.id, i]));
    // Right nodes in the order of the left nodes they draw from (fewer crossings).
    const right = side('to');
    const centre = new Map();
    for (const f of flows) centre.set(f.to, (centre.get(f.to) || 0) + f.mass * leftIndex.get(f.from));
    right.sort((a, b) => centre.get(a.id) / a.mass - centre.get(b.id) / b.mass);

    const gap = 8;
    const rows = Math.max(left.length, right.length);
    const height = Math.max(160, rows * 34);
    // Room below the last node for labels pushed down by tiny neighbours.
    const labelRoom = 12 * Math.max(left.length, right.length);
    const labelW = Math.min(130, width * 0.3);
    const x0 = labelW;
    const x1 = width - labelW;
    const nodeW = 8;
    const stack = (nodes) => {
      const total = d3.sum(nodes, (n) => n.mass) || 1;
      const scale = (height - gap * (nodes.length - 1)) / total;
      let y = 0;
      for (const n of nodes) {
        n.y = y;
        n.h = n.mass * scale;
        n.used = 0;
        y += n.h + gap;
      }
      return scale;
    };
    const sl = stack(left);
    const sr = stack(right);
    const byL = new Map(left.map((n) => [n.id, n]));
    const byR = new Map(right.map((n) => [n.id, n]));
    const bands = [...flows]
      .sort((a, b) => leftIndex.get(a.from) - leftIndex.get(b.from) || b.mass - a.mass)
      .map((f) => {
        const l = byL.get(f.from);
        const r = byR.get(f.to);
        const y0 = l.y + l.used;
        l.used += f.mass * sl;
        const y1 = r.y + r.used;
        r.used += f.mass * sr;
        return { ...f, y0, h0: f.mass * sl, y1, h1: f.mass * sr };
      });
    const mid = (x0 + nodeW + x1) / 2;
    const band = (b) =>
      `M${x0 + nodeW},${b.y0}C${mid},${b.y0} ${mid},${b.y1} ${x1},${b.y1}` +
      `L${x1},${b.y1 + b.h1}C${mid},${b.y1 + b.h1} ${mid},${b.y0 + b.h0} ${x0 + nodeW},${b.y0 + b.h0}Z`;

    const label = `Transport plan from ${this.data.recipe_name} to ${neighbour.neighbor_name}`;
    const svg = svgIn(this.chart, width, Math.max(height, labelRoom) + 12, label);
    const g = single(svg, 'g', 'plan').attr('transform', 'translate(0,4)');
    const paths = g
      .selectAll('path.flow')
      .data(bands, (b) => `${b.from}-${b.to}`)
      .join('path')
      .attr('class', (b) => `flow ${b.from === b.to ? 'kept' : 'moved'}`)
      .attr('d', band);
    withTooltip(paths, (b) =>
      b.from === b.to
        ? [b.fromName, `${fraction(b.mass)} of the recipe stays on it`]
        : [`${b.fromName} → ${b.toName}`, `${fraction(b.mass)} of the recipe moves (stands in)`],
    );
    const panel = this;
    const nodes = (cls, data, x, anchor, dx) => {
      const sel = g
        .selectAll(`g.${cls}`)
        .data(data, (n) => n.id)
        .join((enter) => {
          const e = enter.append('g').attr('class', cls);
          e.append('rect').attr('class', 'flow-node');
          e.append('text').attr('dy', '0.32em');
          return e;
        });
      sel
        .select('rect')
        .attr('x', x)
        .attr('y', (n) => n.y)
        .attr('width', nodeW)
        .attr('height', (n) => Math.max(1, n.h));
      // Labels at their node's middle, pushed down just enough not to overlap.
      let last = -Infinity;
      for (const n of data) {
        n.labelY = Math.max(n.y + n.h / 2, last + 12);
        last = n.labelY;
      }
      sel
        .select('text')
        .attr('x', x + dx)
        .attr('y', (n) => n.labelY)
        .attr('text-anchor', anchor)
        .each(function (n) {
          fitText(this, panel.nameOf(n.id, names(flows, n.id)), ` ${fraction(n.mass)}`, labelW - 6);
        });
    };
    nodes('left', left, x0, 'end', -4);
    nodes('right', right, x1, 'start', nodeW + 4);
  }
}

function names(flows, id) {
  const f = flows.find((x) => x.from === id) || flows.find((x) => x.to === id);
  return f ? (f.from === id ? f.fromName : f.toName) : null;
}
