// LiveStream: the server-sent events of new generations
// (GET /api/v1/analytics/stream). The server sends the generation it serves
// on connect, then one event per generation swapped in; EventSource
// reconnects by itself after a network error, and this reopens it after the
// server refused it (503 when too many clients are connected).
export class LiveStream {
  constructor(url, { onGeneration, onState }) {
    this.url = url;
    this.onGeneration = onGeneration;
    this.onState = onState;
    this.source = null;
  }

  start() {
    this.onState('connecting');
    const es = new EventSource(this.url);
    this.source = es;
    es.addEventListener('open', () => this.onState('live'));
    es.addEventListener('generation', (e) => {
      try {
        this.onGeneration(JSON.parse(e.data));
      } catch (err) {
        console.warn('stream: bad event', err);
      }
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        this.onState('reconnecting');
        setTimeout(() => this.start(), 5000);
      } else {
        this.onState('reconnecting');
      }
    });
  }
}
