// Small DOM helpers shared by the panels: the tooltip and number formats.
import { d3 } from './d3.js';

const tip = () => document.getElementById('tooltip');

// Shows `lines` ([text, …], the first in bold) near the pointer, or near
// `anchor` (an element) when the tooltip follows keyboard focus.
export function showTooltip(lines, anchor) {
  const t = tip();
  t.replaceChildren();
  lines.forEach((line, i) => {
    const div = document.createElement('div');
    if (i === 0) {
      const b = document.createElement('b');
      b.textContent = line;
      div.append(b);
    } else {
      div.textContent = line;
      div.className = 'muted';
    }
    t.append(div);
  });
  t.hidden = false;
  let x;
  let y;
  if (anchor) {
    const r = anchor.getBoundingClientRect();
    x = r.left + r.width / 2;
    y = r.bottom;
  } else {
    x = d3.event.clientX;
    y = d3.event.clientY;
  }
  const w = t.offsetWidth;
  const h = t.offsetHeight;
  t.style.left = `${Math.max(4, Math.min(window.innerWidth - w - 4, x + 12))}px`;
  t.style.top = `${y + h + 16 > window.innerHeight ? y - h - 8 : y + 12}px`;
}

export function hideTooltip() {
  tip().hidden = true;
}

// Tooltip handlers for a d3 selection; `lines(d)` gives the text.
export function withTooltip(selection, lines) {
  selection
    .on('mouseenter.tip mousemove.tip', (d) => showTooltip(lines(d)))
    .on('mouseleave.tip blur.tip', hideTooltip)
    .on('focus.tip', function (d) {
      showTooltip(lines(d), this);
    });
}

export const count = d3.format(',d');
const percent = d3.format('.0%');
// "36%", "<1%" (a share the eye cannot tell from 0 but which is not 0)
export const fraction = (x) => (x > 0 && x < 0.005 ? '<1%' : percent(x));

// "3 s", "4 min", "2 h"
export function age(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// The one <tag class="cls"> under `parent` (a d3 selection), created on
// first use: charts redraw in place rather than being rebuilt.
export function single(parent, tag, cls) {
  return parent
    .selectAll(`${tag}.${cls.trim().split(/\s+/).join('.')}`)
    .data([null])
    .join(tag)
    .attr('class', cls);
}

// The chart's <svg> inside `container`, sized and labelled.
export function svgIn(container, width, height, label, cls = 'chart-svg') {
  return single(d3.select(container), 'svg', cls).attr('width', width).attr('height', height).attr('aria-label', label);
}

// Makes the elements of `selection` act as buttons: a click, or Enter or
// Space while focused, calls `act(datum, byKey)` (the tooltip is hidden).
export function onActivate(selection, act) {
  selection
    .on('click.activate', (d) => {
      hideTooltip();
      act(d, false);
    })
    .on('keydown.activate', (d) => {
      if (d3.event.key === 'Enter' || d3.event.key === ' ') {
        d3.event.preventDefault();
        act(d, true);
      }
    });
}

// The width a chart may use inside `el` (0 while hidden).
export function widthOf(el) {
  return Math.floor(el.getBoundingClientRect().width);
}

// Sets `name + suffix` as the text of an SVG <text>, shortening the name
// with an ellipsis until it fits in `room` pixels (measured, not guessed).
export function fitText(el, name, suffix, room) {
  el.textContent = name + suffix;
  if (!el.getComputedTextLength || el.getComputedTextLength() <= room) return;
  let n = name.length;
  while (n > 3 && el.getComputedTextLength() > room) {
    n -= 1;
    el.textContent = `${name.slice(0, n)}…${suffix}`;
  }
}
