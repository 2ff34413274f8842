// Ingredient tree: the whole hierarchy from the ingredient-tree snapshot,
// collapsible. Circle area follows hierarchical_recipe_count (the number in
// brackets); a filled circle has closed children. Which nodes are open is
// kept by ingredient id across live redraws.
import { d3 } from '../d3.js';
import { count, onActivate, single, svgIn, withTooltip } from '../dom.js';
import { ingredients } from '../ingredients.js';
import { Panel } from '../panel.js';

const ROW = 22;

export class IngredientTreePanel extends Panel {
  constructor({ tracker }) {
    super('tree', 'Ingredient tree');
    this.files = ['ingredient-tree'];
    this.tracker = tracker;
    this.open = new Set(['root']); // ids of open nodes
    this.tree = null;
    this.root.querySelector('.expand-all').addEventListener('click', () => {
      this.tree && walk(this.tree, (n) => n.children && this.open.add(n.id));
      this.render(true);
    });
    this.root.querySelector('.collapse-all').addEventListener('click', () => {
      this.open = new Set(['root']);
      this.render(true);
    });
  }

  async load() {
    const r = await ingredients(); // main.js reloads it when the tree changed
    if (!this.tree && r.tree.children && r.tree.children.length) {
      this.open.add(r.tree.children[0].id); // the most used root, open for a first look
    }
    this.tree = r.tree;
    this.meta = r.meta;
    return r.changed || !this.drawnWidth;
  }

  // `byKey`: the toggle came from the keyboard, so focus follows the node
  // through the redraw.
  toggle(d, byKey = false) {
    if (!d.data.children) return;
    const id = d.data.id;
    if (this.open.has(id)) {
      this.open.delete(id);
    } else {
      this.open.add(id);
      this.tracker.track('drill_down', 'ingredient-tree', 'expand', { ingredient_id: Number(id) });
    }
    this.focusId = byKey ? id : null;
    this.render(true);
  }

  draw(width) {
    if (!this.tree.children || this.tree.children.length === 0) {
      d3.select(this.chart).selectAll('svg').remove();
      return 'The catalog has no ingredients yet.';
    }
    const root = d3.hierarchy(this.tree, (d) => (this.open.has(d.id) ? d.children : null));
    const depth = root.height;
    const column = Math.max(120, Math.min(230, (width - 40) / Math.max(1, depth)));
    d3.tree().nodeSize([ROW, column])(root);
    let top = Infinity;
    let bottom = -Infinity;
    root.each((n) => {
      top = Math.min(top, n.x);
      bottom = Math.max(bottom, n.x);
    });
    const height = bottom - top + ROW * 2;
    const svgWidth = Math.max(width, depth * column + 260);
    const maxCount = d3.max(this.tree.children, (d) => d.hierarchical_recipe_count) || 1;
    const radius = d3.scaleSqrt().domain([0, maxCount]).range([2.5, 10]);

    const svg = svgIn(this.chart, svgWidth, height, 'Ingredient hierarchy');
    const g = single(svg, 'g', 'tree')
      .attr('transform', `translate(${12 - column},${ROW - top})`);

    const nodes = root.descendants().filter((n) => n.depth > 0);
    const links = root.links().filter((l) => l.source.depth > 0);
    const link = d3
      .linkHorizontal()
      .x((n) => n.y)
      .y((n) => n.x);
    // Links in a layer under the nodes, so that labels stay on top.
    const linkLayer = single(g, 'g', 'links');
    const nodeLayer = single(g, 'g', 'nodes');
    linkLayer
      .selectAll('path.link')
      .data(links, (l) => l.target.data.id)
      .join('path')
      .attr('class', 'link')
      .attr('d', link);

    const node = nodeLayer
      .selectAll('g.node')
      .data(nodes, (n) => n.data.id)
      .join((enter) => {
        const e = enter.append('g');
        e.append('circle');
        e.append('text').attr('dy', '0.32em');
        return e;
      })
      .attr('class', (n) => {
        const kids = n.data.children && n.data.children.length;
        return `node${kids ? ' toggle' : ' leaf'}${kids && !this.open.has(n.data.id) ? ' closed' : ''}`;
      })
      .attr('data-id', (n) => n.data.id)
      .attr('transform', (n) => `translate(${n.y},${n.x})`)
      .attr('tabindex', (n) => (n.data.children ? 0 : null))
      .attr('role', (n) => (n.data.children ? 'button' : null))
      .attr('aria-expanded', (n) => (n.data.children ? String(this.open.has(n.data.id)) : null))
      .attr('aria-label', (n) => `${n.data.name}, ${n.data.hierarchical_recipe_count} recipes`);
    onActivate(node, (n, byKey) => this.toggle(n, byKey));
    node.select('circle').attr('r', (n) => radius(n.data.hierarchical_recipe_count));
    node
      .select('text')
      .attr('x', (n) => radius(n.data.hierarchical_recipe_count) + 5)
      .text((n) => `${n.data.name} (${count(n.data.hierarchical_recipe_count)})`);
    withTooltip(node, (n) => [
      n.data.name,
      `${count(n.data.hierarchical_recipe_count)} recipes use it or an ingredient below it`,
      `${count(n.data.recipe_count)} use it directly`,
      n.data.children ? `${n.data.children.length} ingredients below it` : 'no ingredients below it',
    ]);
    if (this.focusId) {
      const el = this.chart.querySelector(`g.node[data-id="${CSS.escape(this.focusId)}"]`);
      if (el) el.focus();
      this.focusId = null;
    }
    return null;
  }
}

function walk(node, fn) {
  fn(node);
  for (const c of node.children || []) walk(c, fn);
}
