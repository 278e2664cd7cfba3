// Peer for bench/deliver: the simplest fast webhook sender one would write in Node.js —
// keep-alive agent, CONCURRENCY requests in flight, each body signed with the
// `standardwebhooks` package (the same headers planebridge sends) — but with no durable
// queue, no retries and no delivery log. Prints "<count> <seconds>".
//   node peer_sender.mjs URL SECRET COUNT CONCURRENCY
import http from 'node:http';
import { createRequire } from 'node:module';

// The pinned copy installed for the tests (tests/clients/package-lock.json).
const require = createRequire(new URL('../../tests/clients/package.json', import.meta.url));
const { Webhook } = require('standardwebhooks');

const [url, secret, countS, concS] = process.argv.slice(2);
const count = Number(countS), conc = Number(concS);
const wh = new Webhook(secret);
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
const u = new URL(url);
let next = 0, done = 0;
const t0 = process.hrtime.bigint();

function one() {
  if (next >= count) return;
  const i = next++;
  const id = `msg_peer_${i}`;
  const body = JSON.stringify({ type: 'issue.updated', timestamp: new Date().toISOString(),
    data: { id: `peer-${i}`, name: `Benchmark item ${i}`, priority: 'medium', sequence_id: i },
    previous_attributes: { priority: 'low' } });
  const now = new Date();
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
    'webhook-id': id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': wh.sign(id, now, body) };
  const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers, agent }, (res) => {
    res.resume();
    res.on('end', () => {
      if (++done === count) {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        process.stdout.write(`${count} ${s.toFixed(3)}\n`);
        agent.destroy();
      } else one();
    });
  });
  req.on('error', (e) => { console.error(e.message); process.exit(1); });
  req.end(body);
}
for (let k = 0; k < conc; k++) one();
