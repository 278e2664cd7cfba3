// The Node.js peer for bench/ingest: the same job as planebridge's receiver, written the way
// a typical Node service would: verify X-Plane-Signature (HMAC-SHA256 hex, timingSafeEqual)
// on the raw body, JSON.parse, content-derived idempotency key (SHA-256 of workspace, event,
// action, object id and the body without webhook_id), INSERT ... ON CONFLICT DO NOTHING into
// PostgreSQL through `pg` (pinned in tests/clients), answer 200 only after the INSERT
// committed (autocommit, synchronous_commit on). One process, pool of POOL connections.
//   node node_receiver.cjs PORT PGURL SECRET [POOL]
"use strict";
const http = require("http");
const crypto = require("crypto");
const path = require("path");
const pg = require(require.resolve("pg", { paths: [path.join(__dirname, "../../tests/clients")] }));

const [port, pgurl, secret, poolSize] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: pgurl, max: +(poolSize || 16) });
const MAX_BODY = 512 * 1024;

async function main() {
  await pool.query(
    "CREATE TABLE IF NOT EXISTS node_event_queue (id BIGSERIAL PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, " +
      "workspace_slug TEXT NOT NULL, object_type TEXT, object_id TEXT, received_at BIGINT NOT NULL, body BYTEA NOT NULL)"
  );
  const server = http.createServer((req, res) => {
    const m = /^\/hooks\/plane\/([a-z0-9_-]{1,48})$/.exec(req.url);
    if (req.method !== "POST" || !m) {
      res.writeHead(404).end();
      return;
    }
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      const sig = Buffer.from(String(req.headers["x-plane-signature"] || ""), "hex");
      const want = crypto.createHmac("sha256", secret).update(body).digest();
      if (sig.length !== want.length || !crypto.timingSafeEqual(sig, want)) {
        res.writeHead(401, { "Content-Type": "application/json" }).end('{"error":"invalid webhook signature"}');
        return;
      }
      let doc;
      try {
        doc = JSON.parse(body);
      } catch {
        res.writeHead(400, { "Content-Type": "application/json" }).end('{"error":"malformed"}');
        return;
      }
      const id = doc && doc.data && doc.data.id;
      delete doc.webhook_id;
      const key = crypto
        .createHash("sha256")
        .update([m[1], doc.event, doc.action, id, JSON.stringify(doc)].join("\0"))
        .digest("hex");
      try {
        const r = await pool.query(
          "INSERT INTO node_event_queue (idempotency_key, workspace_slug, object_type, object_id, received_at, body) " +
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING",
          ["plane:c:" + key, m[1], doc.event, id, Date.now() * 1000, body]
        );
        res
          .writeHead(200, { "Content-Type": "application/json" })
          .end(r.rowCount ? '{"ok":true,"queued":true}' : '{"ok":true,"duplicate":true}');
      } catch (e) {
        res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "1" }).end('{"error":"store"}');
      }
    });
  });
  server.keepAliveTimeout = 30000;
  server.listen(+port, "127.0.0.1", () => console.log("listening " + port));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
