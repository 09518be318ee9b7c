// HTTP for the clients and the errors that say whether a call may be tried again.
'use strict';

const http = require('node:http');
const https = require('node:https');

const REQUEST_TIMEOUT_MS = 15000;
const USER_AGENT = 'ecomock-node-reference/1';

// A call that may succeed when repeated (transport trouble, 5xx, throttling, a busy peer).
class RetryableError extends Error {
  constructor(message, retryAfterSeconds = null) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

// The peer refused the data itself: repeating the call cannot help.
class PermanentError extends Error {}

// One keep-alive pool per peer, so a slow ERP never holds up WMS creates.
class Peer {
  constructor(baseUrl, maxInFlight) {
    this.base = new URL(baseUrl.replace(/\/+$/, '') + '/');
    this.module = this.base.protocol === 'https:' ? https : http;
    this.agent = new this.module.Agent({ keepAlive: true, maxSockets: maxInFlight });
    this.cookies = new Map();
  }

  url(path, query) {
    const url = new URL(path.replace(/^\/+/, ''), this.base);
    for (const [key, value] of Object.entries(query || {})) url.searchParams.set(key, value);
    return url;
  }

  // POST (or GET) and return {status, headers, text}; transport failures are retryable.
  request(method, path, { query, body, headers } = {}) {
    const url = this.url(path, query);
    const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
    const allHeaders = { 'User-Agent': USER_AGENT, ...(headers || {}) };
    if (payload) allHeaders['Content-Length'] = String(payload.length);
    if (this.cookies.size) {
      allHeaders.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    return new Promise((resolve, reject) => {
      const req = this.module.request(
        url,
        { method, headers: allHeaders, agent: this.agent, timeout: REQUEST_TIMEOUT_MS },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('error', (err) => reject(new RetryableError(`reading ${url.pathname}: ${err}`)));
          res.on('end', () => {
            for (const cookie of [].concat(res.headers['set-cookie'] || [])) {
              const [pair] = cookie.split(';');
              const eq = pair.indexOf('=');
              if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
            }
            resolve({
              status: res.statusCode,
              headers: res.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => reject(new RetryableError(`${method} ${url.pathname}: ${err.message}`)));
      if (payload) req.write(payload);
      req.end();
    });
  }
}

// HTTP statuses that say "not now": 5xx (a lost answer is a 504), 408, 425, 429.
function checkStatus(response, what) {
  const { status } = response;
  if (status >= 500 || status === 408 || status === 425 || status === 429) {
    const after = Number(response.headers['retry-after']);
    throw new RetryableError(`${what}: HTTP ${status}`, Number.isFinite(after) ? after : null);
  }
  if (status !== 200) throw new PermanentError(`${what}: HTTP ${status}`);
}

// An answer cut short or garbled on the way is no refusal: ask again.
function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RetryableError(`${what}: unreadable answer (${error.message})`);
  }
}

module.exports = { Peer, RetryableError, PermanentError, checkStatus, parseJson };
