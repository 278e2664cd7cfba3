// faultproxy.mjs: a small fault-injecting HTTP reverse proxy for the sync tests (issue 6).
//
//   node tests/clients/faultproxy.mjs --target http://127.0.0.1:PORT [--port 0]
//   prints "listening PORT" on stdout once ready.
//
// Control (answered by the proxy itself, never forwarded):
//   POST /__fault {"modes":["429","5xx","slow","reset","truncate","tz"], "p":0.3, "burst":0,
//                  "retry_after":1, "delay_ms":[200,1200]}   sets the faults (modes [] = none)
//   GET  /__stats  {"requests", "forwarded", "faults":{mode:n}, "statuses":{code:n}, "urls":[...]}
//   POST /__reset_stats
// Faults (each request picks one of the active modes with probability p; with burst N the
// next N requests fault and then the proxy is clean again):
//   429       answers 429 {"error_code":5900,...} with Retry-After (no X-RateLimit headers), as Plane
//   5xx       answers 500/502/503 with Plane's 500 body
//   slow      waits delay_ms (a random value in the range) before forwarding
//   reset     destroys the client socket without an answer (connection reset)
//   truncate  forwards the upstream answer but sends only half the body, then closes
//   tz        (always, not probabilistic) rewrites every ISO timestamp in JSON bodies to +05:30
// "hide_paths": ["/archived-"] (always, not probabilistic) answers 404 with Plane's body for any
// path containing one of the strings: an upstream that does not route them (Plane CE's v1 has
// no archived-work-items/ routes).
import http from "node:http";

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const target = new URL(arg("target", "http://127.0.0.1:8080"));
const port = Number(arg("port", "0"));

let cfg = { modes: [], p: 0, burst: 0, retry_after: 1, delay_ms: [200, 1200] };
let stats = { requests: 0, forwarded: 0, faults: {}, statuses: {}, urls: [] };
const count = (k) => (stats.faults[k] = (stats.faults[k] || 0) + 1);

const TS = /"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z"/g;
function toIst(body) {
  return body.replace(TS, (m, d, hh, mm, ss, frac) => {
    const t = new Date(`${d}T${hh}:${mm}:${ss}Z`).getTime() + 330 * 60000;
    const x = new Date(t).toISOString().slice(0, 19);
    return `"${x}${frac || ""}+05:30"`;
  });
}

function pickFault() {
  const modes = cfg.modes.filter((m) => m !== "tz");
  if (modes.length === 0) return null;
  if (cfg.burst > 0) {
    cfg.burst--;
    return modes[Math.floor(Math.random() * modes.length)];
  }
  if (Math.random() < cfg.p) return modes[Math.floor(Math.random() * modes.length)];
  return null;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const body = Buffer.concat(chunks);
    if (req.url === "/__fault" && req.method === "POST") {
      const c = JSON.parse(body.toString() || "{}");
      cfg = { modes: [], p: 0, burst: 0, retry_after: 1, delay_ms: [200, 1200], ...c };
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(cfg));
    }
    if (req.url === "/__stats") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(stats));
    }
    if (req.url === "/__reset_stats") {
      stats = { requests: 0, forwarded: 0, faults: {}, statuses: {}, urls: [] };
      res.writeHead(204);
      return res.end();
    }
    stats.requests++;
    if (stats.urls.length < 200000) stats.urls.push(req.url);
    if ((cfg.hide_paths || []).some((h) => req.url.includes(h))) {
      stats.statuses[404] = (stats.statuses[404] || 0) + 1;
      res.writeHead(404, { "content-type": "application/json" });
      return res.end('{"error":"The requested resource does not exist."}');
    }
    const fault = pickFault();
    if (fault) count(fault);
    if (fault === "429") {
      stats.statuses[429] = (stats.statuses[429] || 0) + 1;
      res.writeHead(429, { "content-type": "application/json", "retry-after": String(cfg.retry_after) });
      return res.end('{"error_code":5900,"error_message":"RATE_LIMIT_EXCEEDED"}');
    }
    if (fault === "5xx") {
      const code = [500, 502, 503][Math.floor(Math.random() * 3)];
      stats.statuses[code] = (stats.statuses[code] || 0) + 1;
      res.writeHead(code, { "content-type": "application/json" });
      return res.end('{"error":"Something went wrong please try again later"}');
    }
    if (fault === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault === "slow") {
      const [lo, hi] = cfg.delay_ms;
      await new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
    }
    const headers = { ...req.headers, host: target.host };
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (ur) => {
        const parts = [];
        ur.on("data", (c) => parts.push(c));
        ur.on("end", () => {
          stats.forwarded++;
          stats.statuses[ur.statusCode] = (stats.statuses[ur.statusCode] || 0) + 1;
          let out = Buffer.concat(parts);
          const h = { ...ur.headers };
          delete h["transfer-encoding"];
          if (cfg.modes.includes("tz") && /json/.test(h["content-type"] || "")) out = Buffer.from(toIst(out.toString()));
          h["content-length"] = String(out.length);
          res.writeHead(ur.statusCode, h);
          if (fault === "truncate" && out.length > 1) {
            res.write(out.subarray(0, Math.floor(out.length / 2)));
            setTimeout(() => res.socket && res.socket.destroy(), 5);
            return;
          }
          res.end(out);
        });
      },
    );
    up.on("error", () => {
      res.writeHead(502, { "content-type": "application/json" });
      res.end('{"error":"proxy: upstream unreachable"}');
    });
    up.end(body);
  });
});
server.keepAliveTimeout = 5000;
server.listen(port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
