// Recipe complexity: recipes per number of distinct ingredients, with the
// mean and the mode the snapshot's metadata carries (mean_ingredient_count,
// mode_ingredient_count).
import { d3 } from '../d3.js';
import { analytic } from '../api.js';
import { count, single, svgIn, withTooltip } from '../dom.js';
import { Panel } from '../panel.js';

const MARGIN = { top: 28, right: 16, bottom: 40, left: 48 };

export class ComplexityPanel extends Panel {
  constructor() {
    super('complexity', 'Complexity');
    this.files = ['recipe-complexity'];
    this.summary = this.root.querySelector('.summary');
  }

  async load() {
    const r = await analytic('recipe-complexity');
    this.data = r.body.data;
    this.meta = r.body.metadata;
    return r.changed;
  }

  draw(width) {
    const data = this.data;
    const m = this.meta;
    const mean = m.mean_ingredient_count;
    const mode = m.mode_ingredient_count;
    this.summary.textContent =
      `${count(m.recipes_with_ingredients)} recipes with ingredients` +
      (mean !== undefined && mean !== null ? ` · mean ${mean.toFixed(2)}` : '') +
      (mode !== undefined && mode !== null ? ` · mode ${mode}` : '');
    if (!data.length) {
      d3.select(this.chart).selectAll('svg').remove();
      return 'No recipe has ingredients yet.';
    }
    const height = Math.max(220, Math.min(380, width * 0.55));
    const svg = svgIn(this.chart, width, height, 'Histogram of recipes by number of ingredients');
    const lo = d3.min(data, (d) => d.ingredient_count);
    const hi = d3.max(data, (d) => d.ingredient_count);
    const counts = d3.range(lo, hi + 1);
    const byCount = new Map(data.map((d) => [d.ingredient_count, d.recipe_count]));
    const bins = counts.map((c) => ({ ingredient_count: c, recipe_count: byCount.get(c) || 0 }));
    const x = d3.scaleBand().domain(counts).range([MARGIN.left, width - MARGIN.right]).padding(0.12);
    const y = d3
      .scaleLinear()
      .domain([0, d3.max(bins, (d) => d.recipe_count) || 1])
      .nice()
      .range([height - MARGIN.bottom, MARGIN.top]);

    single(svg, 'g', 'axis x')
      .attr('transform', `translate(0,${height - MARGIN.bottom})`)
      .call(d3.axisBottom(x).tickSizeOuter(0));
    single(svg, 'g', 'axis y')
      .attr('transform', `translate(${MARGIN.left},0)`)
      .call(d3.axisLeft(y).ticks(5));
    single(svg, 'text', 'x-title axis')
      .attr('x', (MARGIN.left + width - MARGIN.right) / 2)
      .attr('y', height - 6)
      .attr('text-anchor', 'middle')
      .attr('font-size', 12)
      .attr('fill', 'currentColor')
      .text('distinct ingredients per recipe');

    const bars = single(svg, 'g', 'hist')
      .selectAll('rect')
      .data(bins, (d) => d.ingredient_count)
      .join('rect')
      .classed('mode', (d) => d.ingredient_count === mode)
      .attr('x', (d) => x(d.ingredient_count))
      .attr('width', x.bandwidth())
      .attr('tabindex', 0)
      .attr('aria-label', (d) => `${d.ingredient_count} ingredients: ${d.recipe_count} recipes`);
    bars
      .transition()
      .duration(300)
      .attr('y', (d) => y(d.recipe_count))
      .attr('height', (d) => y(0) - y(d.recipe_count));
    withTooltip(bars, (d) => [
      `${d.ingredient_count} ingredients`,
      `${count(d.recipe_count)} recipes (${((100 * d.recipe_count) / m.recipes_with_ingredients).toFixed(1)} %)`,
    ]);

    // The mean sits between bands: interpolate between band centres.
    const centre = (c) => x(c) + x.bandwidth() / 2;
    const meanX =
      mean === undefined || mean === null
        ? null
        : centre(Math.floor(mean)) + (mean - Math.floor(mean)) * x.step();
    svg
      .selectAll('line.mean-line')
      .data(meanX === null ? [] : [meanX])
      .join('line')
      .attr('class', 'mean-line')
      .attr('x1', (d) => d)
      .attr('x2', (d) => d)
      .attr('y1', MARGIN.top - 6)
      .attr('y2', height - MARGIN.bottom);
    svg
      .selectAll('text.mean-label')
      .data(meanX === null ? [] : [meanX])
      .join('text')
      .attr('class', 'mean-label')
      .attr('x', (d) => d + 4)
      .attr('y', MARGIN.top - 10)
      .text(`mean ${mean === null || mean === undefined ? '' : mean.toFixed(2)}`);
    svg
      .selectAll('text.mode-label')
      .data(mode === undefined || mode === null ? [] : [mode])
      .join('text')
      .attr('class', 'mode-label')
      .attr('x', (d) => centre(d))
      .attr('y', (d) => y(byCount.get(d) || 0) + 14)
      .attr('text-anchor', 'middle')
      .text('mode');
    return null;
  }
}
