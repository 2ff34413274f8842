// Reads of the public analytics API (same origin), with the client's own
// ETag cache: a refetch sends If-None-Match and a 304 costs no body and no
// redraw. Errors carry the status and the server's Retry-After.

export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter; // seconds, or null
  }
  // 503 before the first snapshot, or for a type this generation does not hold yet.
  get computing() {
    return this.status === 503;
  }
}

export const API = '/api/v1/analytics/';

const cache = new Map(); // url -> {etag, body}
const inflight = new Map(); // url -> Promise, so panels sharing a file fetch it once

async function errorOf(res) {
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch (_) {
    // not JSON: keep the status line
  }
  const retry = Number(res.headers.get('Retry-After'));
  return new ApiError(res.status, message, Number.isFinite(retry) && retry > 0 ? retry : null);
}

// {body, etag, changed}: changed is false when the server answered 304 (the
// cached body is returned).
async function fetchJson(url) {
  const prev = cache.get(url);
  const headers = prev ? { 'If-None-Match': prev.etag } : {};
  let res;
  try {
    res = await fetch(url, { headers });
  } catch (e) {
    throw new ApiError(0, `analytics-api unreachable (${e.message})`, 2);
  }
  if (res.status === 304 && prev) return { body: prev.body, etag: prev.etag, changed: false };
  if (!res.ok) throw await errorOf(res);
  const body = await res.json();
  const etag = res.headers.get('ETag');
  if (etag) cache.set(url, { etag, body });
  return { body, etag, changed: true };
}

export function getJson(url) {
  if (inflight.has(url)) return inflight.get(url);
  const p = fetchJson(url).finally(() => inflight.delete(url));
  inflight.set(url, p);
  return p;
}

export function analytic(type, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  return getJson(API + type + (qs ? `?${qs}` : ''));
}

// What is served now (never cached: Cache-Control no-store).
export async function status() {
  const res = await fetch(API + 'status', { cache: 'no-store' });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()).data;
}
