// Usage events of the dashboard itself (tab viewed, drill-down, recipe
// opened, search), sent to usage-api with navigator.sendBeacon: never
// delays the page, survives the tab being closed. The body is the seed's
// track contract ({event_type, session_id, timestamp, tool_name, action,
// properties}) sent as text/plain, a CORS-safelisted type, so that the
// browser sends it cross-origin without a preflight.
function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function sessionId() {
  try {
    let id = sessionStorage.getItem('cocktail.session');
    if (!id) {
      id = `session_${randomId()}`;
      sessionStorage.setItem('cocktail.session', id);
    }
    return id;
  } catch (_) {
    return `session_${randomId()}`; // storage disabled: one session per page load
  }
}

export class UsageTracker {
  // `baseUrl`: usage-api ("http://127.0.0.1:8083"), or null when not configured.
  constructor(baseUrl) {
    this.url = baseUrl ? `${baseUrl}/api/analytics/track` : null;
    this.session = sessionId();
    this.sent = 0;
  }

  get enabled() {
    return this.url !== null;
  }

  track(eventType, toolName, action, properties = {}) {
    if (!this.url || !navigator.sendBeacon) return false;
    const body = JSON.stringify({
      event_type: eventType,
      session_id: this.session,
      timestamp: new Date().toISOString(),
      tool_name: toolName,
      action,
      properties,
      demo_mode: false,
    });
    const queued = navigator.sendBeacon(this.url, body);
    if (queued) this.sent += 1;
    return queued;
  }
}
