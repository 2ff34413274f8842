// The freshness strip: the generation served, the catalog_seq the page
// reflects (set once every changed panel has been redrawn), whether the live
// stream is connected, and each panel's own catalog seq and age (files
// carried forward by the slow lane are older than the generation).
import { age } from './dom.js';

const LIVE_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  updating: 'updating…',
  reconnecting: 'reconnecting…',
};

export class Freshness {
  constructor(panels) {
    this.panels = panels;
    this.live = document.getElementById('live');
    this.liveText = document.getElementById('live-text');
    this.generation = document.getElementById('generation');
    this.seq = document.getElementById('catalog-seq');
    this.ages = document.getElementById('ages');
    this.streamState = 'connecting';
    setInterval(() => this.tick(), 1000);
  }

  setLive(state) {
    this.streamState = state;
    this.showLive(state);
  }

  showLive(state) {
    this.live.dataset.state = state;
    this.liveText.textContent = LIVE_TEXT[state] || state;
  }

  updating(on) {
    this.showLive(on && this.streamState === 'live' ? 'updating' : this.streamState);
  }

  setGeneration(g) {
    this.generation.textContent = String(g.generation);
    this.seq.textContent = String(g.catalog_seq);
    this.tick();
  }

  tick() {
    const now = Date.now();
    const spans = [];
    for (const p of this.panels) {
      if (!p.meta || !p.meta.generated_at) continue;
      const seconds = (now - Date.parse(p.meta.generated_at)) / 1000;
      const span = document.createElement('span');
      span.className = 'age';
      span.dataset.panel = p.id;
      span.textContent = `${p.name}: seq ${p.meta.catalog_seq}, ${age(seconds)} old`;
      span.title = `${p.name} computed at ${p.meta.generated_at} from catalog seq ${p.meta.catalog_seq} (generation ${p.meta.generation})`;
      spans.push(span);
    }
    this.ages.replaceChildren(...spans);
  }
}
