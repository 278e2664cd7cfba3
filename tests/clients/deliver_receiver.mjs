// A webhook receiver for planebridge's delivery tests and benchmark. It verifies every
// delivery independently of planebridge's code:
//   - Standard Webhooks (header webhook-id): the npm `standardwebhooks` package's
//     Webhook.verify with the secret in RECV_SECRET (whsec_...); any mismatch is counted
//     as "bad" and answered 400;
//   - Plane format (header X-Plane-Signature): hex HMAC-SHA256 of the raw body with
//     RECV_PLANE_SECRET, compared in constant time, as Plane's docs tell receivers to.
// Behaviour knobs (environment):
//   RECV_PORT        port on 127.0.0.1 (0 = any; the chosen one is printed "LISTENING <port>")
//   RECV_FAIL_FIRST  answer 500 to the first N attempts of every message id (retries test)
//   RECV_QUIET       do not keep per-attempt bookkeeping or list ids in /stats (benchmark)
//   RECV_NOVERIFY    count standard deliveries without verifying (benchmark throughput only)
// GET /stats answers {"requests","verified","bad","failed_on_purpose","messages",
//   "delivered":[ids...], "latency_ms":{p50,p99,max,count}} where latency is receipt time
//   minus the event's "timestamp" field (the outbox commit time).
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Webhook } from 'standardwebhooks';

const port = Number(process.env.RECV_PORT || 0);
const failFirst = Number(process.env.RECV_FAIL_FIRST || 0);
const quiet = !!process.env.RECV_QUIET;
// Secrets come from the environment or, when the hook is created after the receiver
// started (its URL needs our port), from files read on first use.
let swSecret = process.env.RECV_SECRET || '';
let planeSecret = process.env.RECV_PLANE_SECRET || '';
let wh = null;
function secretFrom(envFile) {
  const f = process.env[envFile];
  if (!f) return '';
  try { return fs.readFileSync(f, 'utf8').trim(); } catch { return ''; }
}
// RECV_SECRET_DIR: one secret per URL path, in the file named after the path's last segment
// (several hooks with different secrets can share this receiver).
const perPath = new Map();
function pathSecret(url) {
  const dir = process.env.RECV_SECRET_DIR;
  if (!dir) return '';
  const name = (url.split('?')[0].split('/').filter(Boolean).pop() || 'root').replace(/[^A-Za-z0-9_-]/g, '_');
  if (!perPath.get(name)) {
    try { perPath.set(name, fs.readFileSync(`${dir}/${name}`, 'utf8').trim()); } catch { return ''; }
  }
  return perPath.get(name);
}
function webhook(url) {
  const p = pathSecret(url);
  if (p) return new Webhook(p);
  if (!swSecret) swSecret = secretFrom('RECV_SECRET_FILE');
  if (!wh && swSecret) wh = new Webhook(swSecret);
  return wh;
}
function planeKey(url) {
  const p = pathSecret(url);
  if (p) return p;
  if (!planeSecret) planeSecret = secretFrom('RECV_PLANE_SECRET_FILE');
  return planeSecret;
}

const stats = { requests: 0, verified: 0, bad: 0, failed_on_purpose: 0, messages: 0, duplicates: 0, first_ms: 0, last_ms: 0 };
const noVerify = !!process.env.RECV_NOVERIFY; // benchmark: count only
const attempts = new Map(); // msg id -> attempts seen
const delivered = new Set();
const badReasons = [];
const planeEvents = []; // "event.action:field" of every verified Plane delivery
const lat = [];

function record(id, body) {
  if (delivered.has(id)) { stats.duplicates++; return; }
  delivered.add(id);
  stats.messages++;
  const now = Date.now();
  if (!stats.first_ms) stats.first_ms = now;
  stats.last_ms = now;
  try {
    const ts = JSON.parse(body).timestamp;
    if (ts) lat.push(Date.now() - Date.parse(ts));
  } catch { /* not JSON with a timestamp */ }
}

function pct(arr, p) {
  if (!arr.length) return 0;
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...stats, bad_reasons: badReasons.slice(0, 5), plane_events: planeEvents,
        delivered: quiet ? [] : [...delivered],
        latency_ms: { p50: pct(lat, 50), p99: pct(lat, 99), max: lat.length ? Math.max(...lat) : 0, count: lat.length } }));
      return;
    }
    stats.requests++;
    const body = raw.toString('utf8');
    let id = req.headers['webhook-id'];
    if (noVerify && id !== undefined) {
      record(id, body);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (id !== undefined) {
      try {
        const w = webhook(req.url);
        if (!w) throw new Error('no secret configured');
        w.verify(body, req.headers); // throws on any mismatch or stale timestamp
        stats.verified++;
      } catch (e) {
        stats.bad++;
        if (badReasons.length < 20) badReasons.push(String(e && e.message));
        res.writeHead(400); res.end('bad signature');
        return;
      }
    } else if (req.headers['x-plane-signature'] !== undefined) {
      const want = crypto.createHmac('sha256', planeKey(req.url)).update(raw).digest();
      const got = Buffer.from(String(req.headers['x-plane-signature']), 'hex');
      if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) {
        stats.bad++;
        res.writeHead(403); res.end('bad signature');
        return;
      }
      stats.verified++;
      try {
        const b = JSON.parse(body);
        if (!quiet) planeEvents.push(`${b.event}.${b.action}:${b.activity && b.activity.field}`);
      } catch { /* counted as verified; content checked by the test */ }
      // Plane's X-Plane-Delivery changes per attempt: identify a message by its content.
      id = crypto.createHash('sha256').update(raw).digest('hex');
    } else {
      stats.bad++;
      res.writeHead(400); res.end('unsigned');
      return;
    }
    const n = (attempts.get(id) || 0) + 1;
    if (!quiet) attempts.set(id, n);
    if (n <= failFirst) {
      stats.failed_on_purpose++;
      res.writeHead(500); res.end('try again');
      return;
    }
    record(id, body);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
