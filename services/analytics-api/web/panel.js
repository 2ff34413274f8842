// Panel: what every panel shares — its states (loading, computing…, empty,
// error, drawn), retries after the server's Retry-After, and drawing
// whenever its data or its width changed.
//
// A subclass implements:
//   files          the snapshot types it reads ('ingredient-usage', …): when
//                  /status shows one of them changed, the page refreshes it
//   async load()   fetches its data (ETag-revalidated); returns true when
//                  anything changed; sets this.meta (the envelope's metadata)
//   draw(width)    (re)draws in place, keeping the person's state; returns
//                  a message when there is nothing to draw
import { ApiError } from './api.js';
import { widthOf } from './dom.js';

export class Panel {
  constructor(id, name) {
    this.id = id;
    this.name = name;
    this.files = [];
    this.root = document.getElementById(`panel-${id}`);
    this.stateEl = this.root.querySelector('.state');
    this.chart = this.root.querySelector('.chart');
    this.meta = null;
    this.hasData = false;
    this.dirty = true;
    this.drawnWidth = 0;
    this.retryTimer = null;
    this.loading = null;
    this.notice = null; // a remark shown above the drawing until the next load
  }

  get visible() {
    return !this.root.hidden;
  }

  setState(kind, text) {
    this.stateEl.dataset.kind = kind;
    this.stateEl.textContent = text;
    this.root.dataset.state = kind || 'drawn';
  }

  // Fetches and redraws; concurrent calls share one run.
  refresh() {
    if (!this.loading) this.loading = this.run().finally(() => (this.loading = null));
    return this.loading;
  }

  async run() {
    clearTimeout(this.retryTimer);
    if (!this.hasData) this.setState('loading', 'Loading…');
    try {
      const changed = await this.load();
      this.hasData = true;
      if (changed) this.dirty = true;
      this.render();
    } catch (e) {
      this.fail(e);
    }
  }

  fail(e) {
    if (!(e instanceof ApiError)) {
      console.warn(`${this.name}:`, e); // a bug in the page: say so, keep the old drawing
      this.setState('error', `Could not draw ${this.name}: ${e.message}`);
      return;
    }
    const wait = e.retryAfter || (e.computing || e.status === 0 ? 1 : 10);
    if (e.computing) {
      this.setState('computing', `Computing… the server has no snapshot of this yet. Trying again in ${wait} s.`);
      this.stateEl.title = e.message;
    } else {
      this.setState('error', `${e.message}. Trying again in ${wait} s.`);
    }
    this.retryTimer = setTimeout(() => this.refresh(), wait * 1000);
  }

  // Draws when the data or the width changed. A hidden panel draws at the
  // width of the panel in view (they share one column), so that every tab is
  // ready when opened; showing it redraws only if its own width differs.
  render(force = false) {
    if (!this.hasData) return;
    const shown = document.querySelector('.panel:not([hidden]) .chart');
    const width = widthOf(this.chart) || (shown ? widthOf(shown) : 0);
    if (!width) return;
    if (!force && !this.dirty && width === this.drawnWidth) return;
    this.dirty = false;
    this.drawnWidth = width;
    this.drawnVisible = this.visible; // text is measured only when visible
    const empty = this.draw(width);
    if (empty) {
      this.setState('empty', empty);
    } else if (this.notice) {
      this.setState('notice', this.notice);
    } else {
      this.setState('', '');
    }
  }

  // A new generation changed some of this panel's files (`changed`, types):
  // by default everything is fetched again.
  update(changed) {
    return this.refresh(changed);
  }

  show() {
    if (!this.hasData) return this.refresh();
    this.render(!this.drawnVisible);
    return Promise.resolve();
  }
}
