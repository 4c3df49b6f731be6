// The REST API of the server that serves this console (same origin: nothing from elsewhere).

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export class Api {
  constructor(token) {
    this.token = token;
    this.etags = new Map();
  }

  headers(extra = {}) {
    return { Accept: 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  // One call; resolves to {status, data} whatever the status (callers decide what a 409 means).
  async call(method, path, body, extra = {}) {
    const headers = this.headers(body === undefined ? extra : { 'Content-Type': 'application/json', ...extra });
    const res = await fetch(`/api/v1${path}`, {
      method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
    return { status: res.status, data };
  }

  async get(path) {
    const { status, data } = await this.call('GET', path);
    if (status >= 400) throw new ApiError(status, data);
    return data;
  }

  // A view polled every second: null while it is unchanged (304 on its ETag).
  async poll(path) {
    const etag = this.etags.get(path);
    const res = await fetch(`/api/v1${path}`, {
      headers: this.headers(etag ? { 'If-None-Match': etag } : {}), cache: 'no-store',
    });
    if (res.status === 304) return null;
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiError(res.status, data);
    this.etags.set(path, res.headers.get('ETag'));
    return data;
  }
}

// An Idempotency-Key: crypto.randomUUID exists only in secure contexts (https, localhost);
// a console opened at http://<lan address> has getRandomValues only.
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
