// Dashboard usage: events per hour and unique sessions from usage-api's
// hourly roll-ups (GET <usage-api>/api/analytics/rollups?hours=N, the seed's
// contract). Hidden behind a clear message when analytics-api was started
// without --usage-api-url. Refreshed every minute while visible.
import { d3 } from '../d3.js';
import { count, single, svgIn, withTooltip } from '../dom.js';
import { Panel } from '../panel.js';

const MARGIN = { top: 22, right: 44, bottom: 36, left: 44 };

export class ActivityPanel extends Panel {
  constructor({ usageApi }) {
    super('activity', 'Usage');
    this.files = []; // not a snapshot: polled
    this.usageApi = usageApi;
    this.hours = 24;
    this.summary = this.root.querySelector('.summary');
    this.hoursSelect = this.root.querySelector('.hours');
    this.hoursSelect.addEventListener('change', () => {
      this.hours = Number(this.hoursSelect.value);
      this.refresh();
    });
    if (!usageApi) {
      this.hoursSelect.disabled = true;
      this.setState('notice', 'Usage tracking not configured: start analytics-api with --usage-api-url (USAGE_API_URL) pointing at usage-api.');
    } else {
      setInterval(() => this.visible && this.refresh(), 60000);
    }
  }

  refresh() {
    if (!this.usageApi) return Promise.resolve();
    return super.refresh();
  }

  // Not a snapshot, so no stream tells when it changed: every showing asks.
  show() {
    return this.refresh();
  }

  async load() {
    const url = `${this.usageApi}/api/analytics/rollups?hours=${this.hours}`;
    let res;
    try {
      res = await fetch(url, { mode: 'cors', cache: 'no-store' });
    } catch (e) {
      throw Object.assign(new Error(`usage-api unreachable at ${this.usageApi}`), { status: 0 });
    }
    if (!res.ok) throw Object.assign(new Error(`usage-api answered HTTP ${res.status}`), { status: res.status });
    this.data = await res.json();
    return true;
  }

  fail(e) {
    this.setState('error', `${e.message}. Trying again in 30 s.`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.refresh(), 30000);
  }

  draw(width) {
    const d = this.data;
    const plural = (n, word) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;
    this.summary.textContent = `${plural(d.total_events || 0, 'event')} · ${plural(d.total_sessions || 0, 'session')}`;
    // One slot per hour of the period, so quiet hours show as gaps.
    const end = new Date();
    end.setUTCMinutes(0, 0, 0);
    const byHour = new Map((d.rollups || []).map((r) => [new Date(r.hour).getTime(), r]));
    const hours = d3.range(this.hours).map((i) => {
      const t = end.getTime() - (this.hours - 1 - i) * 3600e3;
      const r = byHour.get(t);
      return { t: new Date(t), events: r ? r.total_events : 0, sessions: r ? r.unique_sessions : 0 };
    });
    if (!d.rollups || !d.rollups.length) {
      d3.select(this.chart).selectAll('svg').remove();
      return `No usage events in the last ${this.hours} hours.`;
    }
    const height = Math.max(200, Math.min(320, width * 0.45));
    const x = d3
      .scaleBand()
      .domain(hours.map((h) => h.t.getTime()))
      .range([MARGIN.left, width - MARGIN.right])
      .padding(0.1);
    const y = d3
      .scaleLinear()
      .domain([0, d3.max(hours, (h) => h.events) || 1])
      .nice()
      .range([height - MARGIN.bottom, MARGIN.top]);
    const ys = d3
      .scaleLinear()
      .domain([0, d3.max(hours, (h) => h.sessions) || 1])
      .nice()
      .range([height - MARGIN.bottom, MARGIN.top]);
    const svg = svgIn(this.chart, width, height, 'Usage events per hour', 'chart-svg activity');
    const every = Math.ceil(this.hours / Math.max(2, Math.floor(width / 70)));
    single(svg, 'g', 'axis x')
      .attr('transform', `translate(0,${height - MARGIN.bottom})`)
      .call(
        d3
          .axisBottom(x)
          .tickValues(x.domain().filter((_, i) => i % every === 0))
          .tickFormat((t) => d3.timeFormat(this.hours > 48 ? '%a %H:00' : '%H:00')(new Date(t))),
      );
    // Counts are whole numbers: no fractional ticks.
    const whole = (scale) => scale.ticks(4).filter(Number.isInteger);
    single(svg, 'g', 'axis y')
      .attr('transform', `translate(${MARGIN.left},0)`)
      .call(d3.axisLeft(y).tickValues(whole(y)).tickFormat(d3.format('d')));
    single(svg, 'g', 'axis ys')
      .attr('transform', `translate(${width - MARGIN.right},0)`)
      .call(d3.axisRight(ys).tickValues(whole(ys)).tickFormat(d3.format('d')));
    svg
      .selectAll('text.axis-title')
      .data([
        { x: MARGIN.left, anchor: 'start', text: 'events' },
        { x: width - MARGIN.right, anchor: 'end', text: 'sessions' },
      ])
      .join('text')
      .attr('class', 'axis-title')
      .attr('x', (t) => t.x)
      .attr('y', 10)
      .attr('text-anchor', (t) => t.anchor)
      .text((t) => t.text);
    const bars = svg
      .selectAll('rect.events')
      .data(hours, (h) => h.t.getTime())
      .join('rect')
      .attr('class', 'events')
      .attr('x', (h) => x(h.t.getTime()))
      .attr('width', x.bandwidth())
      .attr('y', (h) => y(h.events))
      .attr('height', (h) => y(0) - y(h.events));
    withTooltip(bars, (h) => [d3.timeFormat('%Y-%m-%d %H:00')(h.t), `${count(h.events)} events`, `${count(h.sessions)} sessions`]);
    svg
      .selectAll('path.sessions')
      .data([hours])
      .join('path')
      .attr('class', 'sessions')
      .attr(
        'd',
        d3
          .line()
          .x((h) => x(h.t.getTime()) + x.bandwidth() / 2)
          .y((h) => ys(h.sessions)),
      );
    return null;
  }
}
