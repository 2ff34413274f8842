// Ingredient usage: one bar per ingredient, hierarchical usage (recipes
// using it or anything below it) with the direct usage inside it. Clicking a
// bar with children drills down (parent_id); breadcrumbs lead back up; the
// level selector shows every ingredient at a depth (level), under the
// current parent when drilled in. All from GET ingredient-usage as served.
import { d3 } from '../d3.js';
import { analytic, ApiError } from '../api.js';
import { count, fitText, onActivate, single, svgIn, withTooltip } from '../dom.js';
import { ingredients } from '../ingredients.js';
import { Panel } from '../panel.js';

const ROW = 24;
const MARGIN = { top: 22, right: 90, bottom: 8 };

export class IngredientUsagePanel extends Panel {
  constructor({ tracker }) {
    super('usage', 'Ingredient usage');
    this.files = ['ingredient-usage', 'ingredient-usage-all', 'ingredient-tree'];
    this.tracker = tracker;
    this.parent = null; // {id, path} of the ingredient drilled into; null at the roots
    this.level = null; // depth shown; null: the parent's children (or the roots)
    this.rows = [];
    this.index = null;
    this.crumbs = this.root.querySelector('.breadcrumbs');
    this.levelSelect = this.root.querySelector('.level');
    this.levelSelect.addEventListener('change', () => {
      this.level = this.levelSelect.value === '' ? null : Number(this.levelSelect.value);
      this.tracker.track('drill_down', 'ingredient-usage', 'level', { level: this.level });
      this.refresh();
    });
  }

  params() {
    return { parent_id: this.parent ? this.parent.id : null, level: this.level };
  }

  async load() {
    let r;
    try {
      [r, this.index] = await Promise.all([
        analytic('ingredient-usage', this.params()),
        ingredients().then((i) => i.index),
      ]);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && this.parent) {
        // The ingredient drilled into is gone from the catalog: back to the roots.
        const gone = this.nameOf(this.parent.id);
        this.parent = null;
        this.level = null;
        await this.load();
        this.notice = `${gone} is no longer in the catalog; showing the roots.`;
        return true;
      }
      throw e;
    }
    this.notice = null;
    this.rows = r.body.data;
    this.meta = r.body.metadata;
    const key = JSON.stringify(this.params());
    const changed = r.changed || key !== this.drawnKey;
    this.drawnKey = key;
    return changed;
  }

  nameOf(id) {
    return (this.index && this.index.nameOf.get(Number(id))) || `#${id}`;
  }

  drill(row) {
    if (!row.has_children) return;
    this.parent = { id: row.ingredient_id, path: row.path };
    this.level = null;
    this.tracker.track('drill_down', 'ingredient-usage', 'drill_down', {
      parent_id: row.ingredient_id,
      ingredient_name: row.ingredient_name,
    });
    this.refresh().then(() => {
      const first = this.chart.querySelector('.bar');
      if (first && document.activeElement === document.body) first.focus();
    });
  }

  goTo(path) {
    // `path`: "/1/23/" of an ancestor, or null for the roots.
    if (path === null) {
      this.parent = null;
    } else {
      const ids = path.split('/').filter(Boolean);
      this.parent = { id: Number(ids[ids.length - 1]), path };
    }
    this.level = null;
    this.tracker.track('drill_down', 'ingredient-usage', 'up', { parent_id: this.parent ? this.parent.id : null });
    this.refresh();
  }

  drawCrumbs() {
    const items = [{ label: 'All ingredients', path: null }];
    if (this.parent) {
      const ids = this.parent.path.split('/').filter(Boolean);
      ids.forEach((id, i) => items.push({ label: this.nameOf(id), path: `/${ids.slice(0, i + 1).join('/')}/` }));
    }
    const nodes = [];
    items.forEach((item, i) => {
      if (i > 0) {
        const sep = document.createElement('span');
        sep.className = 'sep';
        sep.textContent = '›';
        sep.setAttribute('aria-hidden', 'true');
        nodes.push(sep);
      }
      if (i === items.length - 1) {
        const cur = document.createElement('span');
        cur.setAttribute('aria-current', 'page');
        cur.textContent = item.label;
        nodes.push(cur);
      } else {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = item.label;
        b.addEventListener('click', () => this.goTo(item.path));
        nodes.push(b);
      }
    });
    this.crumbs.replaceChildren(...nodes);
  }

  drawLevels() {
    const depth = this.parent ? this.parent.path.split('/').filter(Boolean).length - 1 : -1;
    const max = Math.max(this.index ? this.index.maxDepth : 0, this.level || 0);
    const options = [{ value: '', label: this.parent ? 'children' : 'roots' }];
    for (let l = depth + 2; l <= max; l += 1) options.push({ value: String(l), label: `depth ${l}` });
    this.levelSelect.replaceChildren(
      ...options.map((o) => {
        const opt = document.createElement('option');
        opt.value = o.value;
        opt.textContent = o.label;
        return opt;
      }),
    );
    this.levelSelect.value = this.level === null ? '' : String(this.level);
  }

  draw(width) {
    this.drawCrumbs();
    this.drawLevels();
    const rows = this.rows;
    const labelWidth = Math.min(200, Math.max(90, width * 0.32));
    const height = MARGIN.top + rows.length * ROW + MARGIN.bottom;
    const svg = svgIn(this.chart, width, height, `${rows.length} ingredients`);
    const max = d3.max(rows, (d) => d.hierarchical_usage) || 1;
    const x = d3.scaleLinear().domain([0, max]).nice().range([labelWidth, Math.max(labelWidth + 40, width - MARGIN.right)]);

    single(svg, 'g', 'axis')
      .attr('transform', `translate(0,${MARGIN.top - 4})`)
      .call(d3.axisTop(x).ticks(Math.max(2, Math.floor((width - labelWidth) / 90))).tickSizeOuter(0));

    const t = svg.transition().duration(300);
    const bars = svg
      .selectAll('g.bar')
      .data(rows, (d) => d.ingredient_id)
      .join((enter) => {
        const g = enter.append('g').attr('class', 'bar');
        g.attr('transform', (d, i) => `translate(0,${MARGIN.top + i * ROW})`);
        // New bars grow from zero, their counts from the axis.
        g.append('rect').attr('class', 'hier').attr('width', 0);
        g.append('rect').attr('class', 'direct').attr('width', 0);
        g.append('text').attr('class', 'label');
        g.append('text').attr('class', 'count').attr('x', x(0) + 6);
        return g;
      });
    bars
      .attr('data-id', (d) => d.ingredient_id)
      .classed('drill', (d) => d.has_children)
      .attr('tabindex', (d) => (d.has_children ? 0 : null))
      .attr('role', (d) => (d.has_children ? 'button' : 'img'))
      .attr(
        'aria-label',
        (d) =>
          `${d.ingredient_name}: ${d.hierarchical_usage} recipes, ${d.direct_usage} directly` +
          (d.has_children ? '; drill down' : ''),
      );
    onActivate(bars, (d) => this.drill(d));
    bars.transition(t).attr('transform', (d, i) => `translate(0,${MARGIN.top + i * ROW})`);
    bars
      .select('rect.hier')
      .attr('x', x(0))
      .attr('y', 3)
      .attr('height', ROW - 6)
      .transition(t)
      .attr('width', (d) => Math.max(1, x(d.hierarchical_usage) - x(0)));
    bars
      .select('rect.direct')
      .attr('x', x(0))
      .attr('y', 8)
      .attr('height', ROW - 16)
      .transition(t)
      .attr('width', (d) => Math.max(0, x(d.direct_usage) - x(0)));
    bars
      .select('text.label')
      .attr('x', labelWidth - 8)
      .attr('y', ROW / 2 + 4)
      .attr('text-anchor', 'end')
      .each(function (d) {
        fitText(this, d.ingredient_name, d.has_children ? ' ▸' : '', labelWidth - 12);
      });
    bars
      .select('text.count')
      .attr('y', ROW / 2 + 4)
      .text((d) => count(d.hierarchical_usage))
      .transition(t)
      .attr('x', (d) => x(d.hierarchical_usage) + 6);
    withTooltip(bars, (d) => [
      d.ingredient_name,
      `${count(d.hierarchical_usage)} recipes use it or an ingredient below it`,
      `${count(d.direct_usage)} use it directly`,
      d.has_children ? 'click to drill down' : 'no ingredients below it',
    ]);
    return rows.length ? null : 'No ingredients here.';
  }
}
