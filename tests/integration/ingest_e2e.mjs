// End-to-end webhook ingestion between two real planebridge daemons (run by ingest.sh):
//   A: a standalone planebridge (local Plane stand-in) with a `plane`-format hook (the
//      deliveries module) pointing at B's POST /hooks/plane/acme;
//   B: a planebridge connected to A as its upstream Plane (`workspace-connect ...
//      --webhook-secret-file`, backfilled once with `planebridge sync`).
// Changes are made on A through Plane's official Node SDK; they must reach B's mirror through
// the webhooks alone, each change as ONE coalesced event in B's outbox, and `planebridge
// verify` on B must report 100%.
// Prints PASS/FAIL lines and "N passed, N failed"; exit 1 on failure.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { spawnSync } from "node:child_process";

const here = path.dirname(fileURLToPath(import.meta.url));
const clients = path.resolve(here, "../clients");
const { startDaemon } = await import(pathToFileURL(path.join(clients, "lib/daemon.mjs")));
const req = createRequire(path.join(clients, "package.json"));
const { PlaneClient } = await import(pathToFileURL(req.resolve("@makeplane/plane-node-sdk")));

let pass = 0, fail = 0;
const ok = (name) => { console.log(`PASS e2e ${name}`); pass++; };
const ko = (name, why) => { console.log(`FAIL e2e ${name}${why ? ` (${String(why).slice(0, 400)})` : ""}`); fail++; };
const check = (name, cond, why) => (cond ? ok(name) : ko(name, why));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sql(d, q) {
  if (d.storeUrl.startsWith("sqlite:")) {
    const r = spawnSync("sqlite3", ["-cmd", ".timeout 10000", d.storeUrl.slice(7),
      q.replace(/work_plane\./g, "work_plane_").replace(/ops\./g, "ops_")], { encoding: "utf8" });
    return (r.stdout || "").trim();
  }
  const r = spawnSync("psql", ["-qtA", d.storeUrl, "-c", q], { encoding: "utf8" });
  return (r.stdout || "").trim();
}

async function until(fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    let v;
    try { v = await fn(); } catch { v = false; }
    if (v) return v;
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

let A, B;
try {
  const common = { PB_SSRF_ALLOW: "127.0.0.1/32", PB_INGEST_COALESCE_MS: "200", PB_LOG_LEVEL: "info" };
  B = await startDaemon({ slug: "b-local", email: "b@example.com", env: common });
  A = await startDaemon({ slug: "acme", env: common });

  // A: a plane-format subscription to B; its plane_wh_ secret is printed once on stdout.
  const hook = A.cli(["hooks", "add", "--workspace", "acme", "--url", `${B.baseUrl}/hooks/plane/acme`, "--format", "plane"]);
  const secret = (hook.stdout.match(/plane_wh_[0-9a-f]+/) || [])[0];
  check("A: plane-format hook created", hook.code === 0 && secret, hook.stderr + hook.stdout);

  // B: connected to A as its upstream, with that webhook secret.
  fs.writeFileSync(path.join(B.dir, "upstream.key"), A.apiKey + "\n", { mode: 0o600 });
  fs.writeFileSync(path.join(B.dir, "webhook.secret"), (secret || "") + "\n", { mode: 0o600 });
  const conn = B.cli(["workspace-connect", "acme", "--upstream", A.baseUrl, "--api-key-file",
    path.join(B.dir, "upstream.key"), "--webhook-secret-file", path.join(B.dir, "webhook.secret")]);
  check("B: workspace-connect with --webhook-secret-file", conn.code === 0, conn.stderr + conn.stdout);

  const plane = new PlaneClient({ baseUrl: A.baseUrl, apiKey: A.apiKey, enableLogging: false });
  const project = await plane.projects.create("acme", { name: "E2E Webhooks", identifier: "E2E" });
  check("A: project created through the SDK", !!project.id);

  // Backfill B once (states, labels, members...), so verify can compare everything.
  const sync = B.cli(["sync", "--workspace", "acme"]);
  check("B: initial sync", sync.code === 0, sync.stderr.slice(-400) + sync.stdout.slice(-400));

  const item = await plane.workItems.create("acme", project.id, { name: "Webhook e2e item", priority: "low" });
  check("A: work item created through the SDK", !!item.id);
  const got = await until(() => sql(B, `SELECT name FROM work_plane.items WHERE plane_id = '${item.id}'`) === "Webhook e2e item");
  check("B: created item arrives through the webhook", got, sql(B, "SELECT COUNT(*) FROM ops.event_queue"));

  // One PATCH of two fields: Plane sends one delivery per field; B emits one update event.
  await plane.workItems.update("acme", project.id, item.id, { name: "Webhook e2e item v2", priority: "high" });
  const upd = await until(() =>
    sql(B, `SELECT name || '/' || priority FROM work_plane.items WHERE plane_id = '${item.id}'`) === "Webhook e2e item v2/high");
  check("B: PATCH of two fields reaches the mirror", upd,
    sql(B, `SELECT name || '/' || priority FROM work_plane.items WHERE plane_id = '${item.id}'`));
  await until(() => sql(B, "SELECT COUNT(*) FROM ops.event_queue WHERE status IN ('pending','leased')") === "0");
  const deliveries = +sql(B, `SELECT COUNT(*) FROM ops.event_queue WHERE object_id = '${item.id}'`);
  const updates = +sql(B, `SELECT COUNT(*) FROM ops.outbox WHERE object_id = '${item.id}' AND type = 'issue.updated'`);
  const creates = +sql(B, `SELECT COUNT(*) FROM ops.outbox WHERE object_id = '${item.id}' AND type = 'issue.created'`);
  check(`B: ${deliveries} deliveries -> 1 created + 1 coalesced updated event`, creates === 1 && updates === 1,
    `created ${creates} updated ${updates}`);
  check("B: plane-format deliveries were per field (>= 3 jobs)", deliveries >= 3, `jobs ${deliveries}`);
  const prev = sql(B, `SELECT payload FROM ops.outbox WHERE object_id = '${item.id}' AND type = 'issue.updated'`);
  let pj = {};
  try { pj = JSON.parse(prev); } catch { /* checked below */ }
  check("B: the update event carries both previous_attributes",
    pj.previous_attributes && pj.previous_attributes.name === "Webhook e2e item" && pj.previous_attributes.priority === "low",
    prev.slice(0, 400));
  check("B: no jobs dead-lettered", sql(B, "SELECT COUNT(*) FROM ops.event_queue WHERE status = 'dead'") === "0");

  const ver = B.cli(["verify", "--workspace", "acme", "--shallow"]);
  console.log("    verify: " + ver.stdout.trim().split("\n").slice(-2).join(" | "));
  check("B: verify reports 100%", ver.code === 0 && /100(\.0+)?\s*%/.test(ver.stdout), (ver.stdout + ver.stderr).slice(-600));
} catch (e) {
  ko("exception", e && e.stack);
} finally {
  if (A) await A.stop();
  if (B) await B.stop();
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
