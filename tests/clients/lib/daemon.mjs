// daemon.mjs: start a real planebridge daemon for a client test, and stop it.
//
//   import { startDaemon } from "./lib/daemon.mjs";
//   const d = await startDaemon();            // SQLite, or PostgreSQL when PB_TEST_PG_URL is set
//   d.baseUrl  -> "http://127.0.0.1:PORT"     (origin only, as the Plane SDK wants it)
//   d.apiKey, d.slug, d.email                 (a workspace + admin user + key made through the CLI)
//   await d.createUser("x@example.com", ["--role", "member"])  -> { email, apiKey, stdout }
//   d.cli(["workspace", "create", "other"])  -> { code, stdout, stderr } (runs the binary with the
//                                                same store/config environment)
//   await d.stop();                           // SIGTERM, waits, removes the temp dir
//
// The binary is $PB_BIN, else build/planebridge under the repository root. The store is a
// fresh SQLite file in a temp dir, or a fresh database created from $PB_TEST_PG_URL (dropped
// again by stop()). Options: { slug, email, env: {...extra PB_* vars}, keepDir, userArgs }.
// The per-key rate limit defaults to 1000000/min here (PB_RATE_LIMIT_PER_MIN); pass env to test it.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "..", "..", "..");

export function binPath() {
  return process.env.PB_BIN || path.join(repoRoot, "build", "planebridge");
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function pgUrlWithDb(base, db) {
  const u = new URL(base);
  u.pathname = "/" + db;
  return u.toString();
}

function psql(url, sql) {
  const r = spawnSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

let counter = 0;

// On any failure while starting, everything made so far (child, temp dir, database) is removed.
export async function startDaemon(opts = {}) {
  const st = {};
  try {
    return await startInner(opts, st);
  } catch (e) {
    if (st.child && st.child.exitCode === null) st.child.kill("SIGKILL");
    if (st.pgDb) {
      try { psql(st.pgBase, `DROP DATABASE IF EXISTS ${st.pgDb} WITH (FORCE)`); } catch { /* best effort */ }
    }
    if (st.dir && !opts.keepDir) fs.rmSync(st.dir, { recursive: true, force: true });
    throw e;
  }
}

async function startInner(opts, st) {
  const bin = opts.bin || binPath();
  if (!fs.existsSync(bin)) throw new Error(`planebridge binary not found: ${bin} (set PB_BIN)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pb-client-"));
  st.dir = dir;
  const port = await freePort();
  let storeUrl;
  let pgDb = null;
  const pgBase = process.env.PB_TEST_PG_URL;
  if (pgBase) {
    pgDb = `pbc_${process.pid}_${Date.now().toString(36)}_${counter++}`;
    psql(pgBase, `CREATE DATABASE ${pgDb}`);
    st.pgDb = pgDb;
    st.pgBase = pgBase;
    storeUrl = pgUrlWithDb(pgBase, pgDb);
  } else {
    storeUrl = `sqlite:${path.join(dir, "pb.db")}`;
  }
  const env = {
    ...process.env,
    PB_LISTEN: `127.0.0.1:${port}`,
    PB_STORE: storeUrl,
    PB_MASTER_KEY_FILE: path.join(dir, "master.key"),
    PB_LOG_LEVEL: process.env.PB_LOG_LEVEL || "warn",
    PB_LOG_FILE: path.join(dir, "daemon.log"),
    // Tests make hundreds of calls per minute; rate-limit tests pass their own value in opts.env.
    PB_RATE_LIMIT_PER_MIN: "1000000",
    ...(opts.env || {}),
  };
  const cli = (args, input) => {
    const r = spawnSync(bin, args, { env, encoding: "utf8", input, timeout: 60000 });
    return { code: r.status, stdout: r.stdout || "", stderr: r.stderr || "" };
  };
  const mig = cli(["migrate"]);
  if (mig.code !== 0) throw new Error(`planebridge migrate failed (${mig.code}): ${mig.stderr}`);

  const slug = opts.slug || "acme";
  const email = opts.email || "admin@example.com";
  const ws = cli(["workspace", "create", slug]);
  if (ws.code !== 0) throw new Error(`workspace create failed (${ws.code}): ${ws.stderr}${ws.stdout}`);

  const keyFrom = (out) => {
    const m = out.match(/\b(pb_[A-Za-z0-9_\-]{8,})/);
    if (m) return m[1];
    const lines = out.split("\n").map((l) => l.trim()).filter(Boolean);
    return lines[lines.length - 1];
  };
  const createUser = async (userEmail, extra = []) => {
    const r = cli(["user", "create", "--email", userEmail, "--workspace", slug, ...extra]);
    if (r.code !== 0) throw new Error(`user create failed (${r.code}): ${r.stderr}${r.stdout}`);
    return { email: userEmail, apiKey: keyFrom(r.stdout), stdout: r.stdout };
  };
  const admin = await createUser(email, opts.userArgs || ["--role", "admin"]);

  const child = spawn(bin, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
  st.child = child;
  let output = "";
  child.stdout.on("data", (b) => (output += b));
  child.stderr.on("data", (b) => (output += b));
  let exited = null;
  child.on("exit", (code, sig) => (exited = { code, sig }));

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (exited) throw new Error(`planebridge serve exited early (${JSON.stringify(exited)}): ${output}`);
    try {
      const r = await fetch(`${baseUrl}/readyz`);
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`planebridge did not start listening on ${baseUrl}: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      const t0 = Date.now();
      while (!exited && Date.now() - t0 < 15000) await new Promise((r) => setTimeout(r, 25));
      if (!exited) child.kill("SIGKILL");
    }
    if (pgDb) {
      try { psql(pgBase, `DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`); } catch { /* best effort */ }
    }
    if (!opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
    return exited;
  };

  return {
    baseUrl, port, dir, bin, env, storeUrl, slug,
    email: admin.email, apiKey: admin.apiKey,
    cli, createUser, stop,
    alive: () => !exited,
    output: () => output,
    log: () => { try { return fs.readFileSync(env.PB_LOG_FILE, "utf8"); } catch { return ""; } },
  };
}

// Small raw-HTTP helper for tests that need exact status codes, headers and bodies.
export async function api(d, method, p, { body, key, headers = {}, raw, redirect = "manual" } = {}) {
  const h = { "X-Api-Key": key === undefined ? d.apiKey : key, ...headers };
  if (key === null) delete h["X-Api-Key"];
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === "content-type"))
    h["Content-Type"] = "application/json";
  const r = await fetch(d.baseUrl + p, { method, headers: h, body: payload, redirect });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}
