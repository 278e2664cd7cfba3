// api_hostile: hostile input against the Plane-compatible API of a real daemon. Every case
// must get a clear 4xx (or, for harmless input, a correct answer), the daemon must stay up,
// and refused writes must change nothing in the store (rows counted directly in the store).
// Prints "PASS name" / "FAIL name" lines and a final "N passed, N failed"; exit 1 on failure.
// Backend: SQLite, or PostgreSQL when PB_TEST_PG_URL is set (fresh database).
import { spawnSync } from "node:child_process";
import http from "node:http";
import { startDaemon, api } from "../clients/lib/daemon.mjs";

let passed = 0, failed = 0;
const backend = process.env.PB_TEST_PG_URL ? "postgres" : "sqlite";
function check(name, ok, detail = "") {
  if (ok) { passed++; console.log(`PASS ${name} [${backend}]`); }
  else { failed++; console.log(`FAIL ${name} [${backend}] ${detail}`); }
}

function storeCounts(d) {
  const tables = ["work_plane.items", "work_plane.projects", "work_plane.item_refs", "ops.outbox"];
  const out = {};
  for (const t of tables) {
    let r;
    if (d.storeUrl.startsWith("sqlite:")) {
      r = spawnSync("sqlite3", [d.storeUrl.slice(7), `SELECT COUNT(*) FROM ${t.replace(".", "_")}`], { encoding: "utf8" });
    } else {
      r = spawnSync("psql", [d.storeUrl, "-tAc", `SELECT COUNT(*) FROM ${t}`], { encoding: "utf8" });
    }
    out[t] = r.status === 0 ? r.stdout.trim() : `error: ${r.stderr}`;
  }
  return out;
}

// One request on its own connection with "Expect: 100-continue": the server refuses (413) on
// the headers alone, so the answer cannot be lost to a reset while an unread body is in flight.
// (Without Expect the refusal and the close race the upload.)
function oversize(d, method, path, body) {
  return new Promise((resolve) => {
    const u = new URL(d.baseUrl + path);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, agent: false,
      headers: { "X-Api-Key": d.apiKey, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body),
        Expect: "100-continue" } });
    req.on("continue", () => req.end(body));
    let done = false;
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => { done = true; resolve({ status: res.statusCode, text }); });
      res.on("error", () => { if (!done) { done = true; resolve({ status: res.statusCode, text }); } });
    });
    req.on("error", (e) => { if (!done) setTimeout(() => { if (!done) { done = true; resolve({ status: 0, text: String(e) }); } }, 200); });
  });
}

const d = await startDaemon({ slug: "hostile" });
try {
  const S = `/api/v1/workspaces/${d.slug}`;
  let r = await api(d, "POST", `${S}/projects/`, { body: { name: "Hostile", identifier: "HOST" } });
  const pid = r.json.id;
  const P = `${S}/projects/${pid}`;
  r = await api(d, "POST", `${P}/work-items/`, { body: { name: "victim" } });
  const wid = r.json.id;
  r = await api(d, "GET", `${P}/states/`);
  const stateId = r.json.results[0].id;

  const before = storeCounts(d);
  check("store is readable", !Object.values(before).some((v) => String(v).startsWith("error")), JSON.stringify(before));

  // --- malformed JSON, on every writing endpoint
  const writes = [
    ["POST", `${S}/projects/`], ["PATCH", `${P}/`], ["POST", `${P}/states/`], ["PATCH", `${P}/states/${stateId}/`],
    ["POST", `${P}/labels/`], ["POST", `${P}/work-items/`], ["PATCH", `${P}/work-items/${wid}/`],
    ["POST", `${P}/issues/`], ["POST", `${P}/members/`],
  ];
  const malformed = ["{", "{\"name\":", "{'name':'x'}", "{\"name\":\"x\",}", "nul", "{\"name\":\"x\"} trailing", "\u0000{}", "{\"a\":1e999999}x"];
  for (const [m, p] of writes) {
    for (const body of malformed) {
      r = await api(d, m, p, { raw: body });
      check(`malformed JSON ${m} ${p.replace(S, "")} ${JSON.stringify(body)}`, r.status === 400 && r.json && (r.json.detail || r.json.non_field_errors), `${r.status} ${r.text}`);
    }
    for (const body of ["[]", "\"str\"", "123", "null", "true", "[{\"name\":\"x\"}]"]) {
      r = await api(d, m, p, { raw: body });
      check(`non-object body ${m} ${p.replace(S, "")} ${body}`, r.status === 400, `${r.status} ${r.text}`);
    }
    r = await api(d, m, p, { raw: Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) });
    check(`invalid UTF-8 ${m} ${p.replace(S, "")}`, r.status === 400, `${r.status} ${r.text}`);
  }

  // --- wrong types, field by field
  const wrong = {
    name: [123, true, [], {}, null, ""], priority: [5, "critical", null, ["high"]], assignees: ["x", {}, [1], ["not-a-uuid"]],
    labels: ["x", { a: 1 }, [null]], state: [5, "nope", []], parent: [5, "nope"], start_date: [20260101, "2026-13-01", "yesterday"],
    target_date: ["2026-02-30"], is_draft: ["maybe", 2], point: ["x", 13, -1, 1.5], sort_order: ["abc", {}],
    description_html: [5, {}], external_id: [5, "x".repeat(256)], archived_at: ["soon"],
  };
  for (const [field, values] of Object.entries(wrong)) {
    for (const v of values) {
      r = await api(d, "POST", `${P}/work-items/`, { body: { name: "typed", [field]: v } });
      if (field === "name") { /* name itself is the wrong value */ r = await api(d, "POST", `${P}/work-items/`, { body: { [field]: v } }); }
      check(`wrong type work item ${field}=${JSON.stringify(v).slice(0, 40)}`, r.status === 400 && r.json && typeof r.json === "object", `${r.status} ${r.text}`);
      r = await api(d, "PATCH", `${P}/work-items/${wid}/`, { body: { [field]: v } });
      check(`wrong type PATCH ${field}=${JSON.stringify(v).slice(0, 40)}`, r.status === 400, `${r.status} ${r.text}`);
    }
  }
  for (const [path, body] of [
    [`${S}/projects/`, { name: 5, identifier: "X1" }], [`${S}/projects/`, { name: "n", identifier: 5 }],
    [`${S}/projects/`, { name: "n", identifier: "ID", network: 7 }], [`${S}/projects/`, { name: "n", identifier: "ID", cycle_view: "sure" }],
    [`${S}/projects/`, { name: "n", identifier: "ID", archive_in: 99 }], [`${S}/projects/`, { name: "n", identifier: "ID", project_lead: "x" }],
    [`${P}/states/`, { name: [], color: "#fff" }], [`${P}/states/`, { name: "s", color: 5 }], [`${P}/states/`, { name: "s", color: "#fff", group: 5 }],
    [`${P}/states/`, { name: "s", color: "#fff", default: "yes please" }],
    [`${P}/labels/`, { name: {} }], [`${P}/labels/`, { name: "l", parent: "x" }], [`${P}/labels/`, { name: "l", sort_order: "x" }],
    [`${P}/members/`, { member: 5 }], [`${P}/members/`, { member: "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d", role: 7 }],
  ]) {
    r = await api(d, "POST", path, { body });
    check(`wrong type ${path.replace(S, "")} ${JSON.stringify(body).slice(0, 60)}`, r.status === 400, `${r.status} ${r.text}`);
  }

  // --- 100-level nesting, and a body over the limit
  const deep = "[".repeat(100) + "]".repeat(100);
  for (const [m, p] of writes) {
    r = await api(d, m, p, { raw: `{"name":"deep","labels":${deep}}` });
    check(`100-level nesting ${m} ${p.replace(S, "")}`, r.status === 400, `${r.status} ${r.text.slice(0, 200)}`);
  }
  const deepObj = "{\"a\":".repeat(100) + "1" + "}".repeat(100);
  r = await api(d, "POST", `${P}/work-items/`, { raw: deepObj });
  check("100-level object nesting", r.status === 400, `${r.status}`);
  const huge = JSON.stringify({ name: "big", description_html: "x".repeat(2 * 1024 * 1024) });
  r = await oversize(d, "POST", `${P}/work-items/`, huge);
  check("body over the limit answers 413", r.status === 413, `${r.status} ${r.text.slice(0, 200)}`);
  r = await oversize(d, "PATCH", `${P}/work-items/${wid}/`, huge);
  check("PATCH body over the limit answers 413", r.status === 413, `${r.status}`);

  // --- invalid UUIDs and path tricks
  // ("%2E%2E" is left out: WHATWG URL parsing turns it into ".." on the client side.)
  for (const bad of ["not-a-uuid", "5A0E9B9E-6A3E-4B9C-9D6E-0C1F2A3B4C5D", "5a0e9b9e6a3e4b9c9d6e0c1f2a3b4c5d",
    "'%20OR%201=1--", "%00", "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d%27", "%E2%80%AE", "1"]) {
    for (const p of [`${S}/projects/${bad}/`, `${S}/projects/${bad}/work-items/`, `${P}/work-items/${bad}/`, `${P}/states/${bad}/`,
      `${P}/labels/${bad}/`, `${P}/work-items/${bad}/activities/`, `${P}/members/${bad}/`]) {
      r = await api(d, "GET", p);
      check(`invalid id GET ${p.replace(S, "")}`, r.status === 404 || r.status === 400, `${r.status} ${r.text.slice(0, 100)}`);
    }
    r = await api(d, "PATCH", `${P}/work-items/${bad}/`, { body: { name: "x" } });
    check(`invalid id PATCH ${bad}`, r.status === 404 || r.status === 400, `${r.status}`);
    r = await api(d, "DELETE", `${P}/work-items/${bad}/`);
    check(`invalid id DELETE ${bad}`, r.status === 404 || r.status === 400, `${r.status}`);
  }

  // --- hostile query strings
  for (const q of ["per_page=-1", "per_page=0", "per_page=1e3", "per_page=99999999999999999999", "cursor=1:1:1:1", "cursor=%27;--",
    "cursor=1:99999999999999999999:0", "order_by=name;DROP%20TABLE%20x", "order_by=raw", `fields=${"a,".repeat(5000)}`]) {
    r = await api(d, "GET", `${P}/work-items/?${q}`);
    check(`hostile query ${q.slice(0, 40)}`, r.status === 400 || r.status === 200 || r.status === 414, `${r.status} ${r.text.slice(0, 100)}`);
  }
  r = await api(d, "GET", `${P}/work-items/?expand=nonsense,state&fields=id`);
  check("unknown expand keys are ignored", r.status === 200, `${r.status}`);

  const mid = storeCounts(d);
  check("refused writes changed nothing in the store", JSON.stringify(mid) === JSON.stringify(before),
    `${JSON.stringify(before)} -> ${JSON.stringify(mid)}`);

  // --- unknown and read-only fields are ignored, not stored
  r = await api(d, "POST", `${P}/work-items/`, { body: { name: "unknowns", evil: "x", sequence_id: 9999, id: "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d",
    project: "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d", workspace: "w", updated_at: "2000-01-01T00:00:00Z", completed_at: "2000-01-01T00:00:00Z" } });
  check("unknown fields ignored on create", r.status === 201 && !("evil" in r.json) && r.json.sequence_id !== 9999 &&
    r.json.id !== "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d" && r.json.project === pid && r.json.completed_at === null, r.text);
  const uid = r.json.id;
  r = await api(d, "GET", `${P}/work-items/${uid}/`);
  check("unknown fields not stored", r.status === 200 && !("evil" in r.json), r.text);

  // --- SQL metacharacters and unicode in every string field, read back byte-identical
  const nasty = ["'; DROP TABLE work_plane_items; --", "\" OR \"\"=\"", "Robert'); DROP TABLE ops_outbox;--", "%_\\\\%", "$1 $2 ?1",
    "💥 émoji 日本語 עברית \u202e reversed", "zero\u200bwidth", "a\u0301\u0301\u0301", "<script>alert(1)</script>", "\\u0000 literal", "tab\tnew\nline"];
  for (const s of nasty) {
    r = await api(d, "POST", `${P}/work-items/`, { body: { name: s, description_html: `<p>${s}</p>`, external_source: s, external_id: `${s}-id` } });
    const ok = r.status === 201 && r.json.name === s && r.json.external_source === s;
    check(`string field round trip ${JSON.stringify(s).slice(0, 30)}`, ok, `${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 201) {
      const g = await api(d, "GET", `${P}/work-items/?external_id=${encodeURIComponent(s + "-id")}&external_source=${encodeURIComponent(s)}`);
      check(`external lookup with metacharacters ${JSON.stringify(s).slice(0, 30)}`, g.status === 200 && g.json.id === r.json.id, `${g.status}`);
    }
    r = await api(d, "POST", `${P}/labels/`, { body: { name: s, description: s, color: s } });
    check(`label strings ${JSON.stringify(s).slice(0, 30)}`, r.status === 201 && r.json.name === s, `${r.status} ${r.text.slice(0, 200)}`);
    r = await api(d, "POST", `${P}/states/`, { body: { name: `st ${s}`, color: s, description: s } });
    check(`state strings ${JSON.stringify(s).slice(0, 30)}`, r.status === 200 && r.json.name === `st ${s}`, `${r.status} ${r.text.slice(0, 200)}`);
  }
  r = await api(d, "POST", `${S}/projects/`, { body: { name: "'; DROP TABLE work_plane_projects; -- 日本", identifier: "日本語" } });
  check("project with metacharacters and unicode identifier", r.status === 201 && r.json.identifier === "日本語", `${r.status} ${r.text.slice(0, 200)}`);
  r = await api(d, "GET", `${P}/work-items/?per_page=1`);
  check("tables intact after metacharacter writes", r.status === 200 && r.json.total_count >= nasty.length, `${r.status}`);

  // NUL and lone-surrogate escapes (PostgreSQL's jsonb refuses \u0000): never a 5xx
  for (const [path, raw] of [
    [`${P}/work-items/`, '{"name":"nul\\u0000byte"}'], [`${P}/work-items/`, '{"name":"x","description_html":"\\u0000"}'],
    [`${P}/labels/`, '{"name":"lab\\u0000el"}'], [`${P}/states/`, '{"name":"st\\u0000","color":"#fff"}'],
    [`${S}/projects/`, '{"name":"pn","identifier":"NUL","description_text":{"a":"\\u0000"},"logo_props":{"k":["\\u0000"]}}'],
    [`${P}/work-items/`, '{"name":"\\ud800"}'], [`${P}/work-items/`, '{"name":"\\udc00\\ud800"}'],
  ]) {
    r = await api(d, "POST", path, { raw });
    check(`escape ${raw.slice(0, 50)}`, r.status >= 200 && r.status < 500, `${r.status} ${r.text.slice(0, 200)}`);
  }

  r = await api(d, "GET", "/api/v1/users/me/");
  check("daemon still answers", r.status === 200 && d.alive(), `${r.status}`);
} catch (e) {
  check("hostile run completed", false, String(e && e.stack || e));
} finally {
  await d.stop();
  // Under an ASan build: no memory error anywhere, no leak through the API's own code.
  const out = d.output();
  check("no AddressSanitizer report", !/ERROR: AddressSanitizer/.test(out), out.slice(-3000));
  const leaks = out.split(/(?=Direct leak|Indirect leak)/).filter((b) => /leak of/.test(b) && /src\/api\/|plane_store\.c/.test(b));
  check("no leak in src/api or plane_store", leaks.length === 0, leaks.join("\n").slice(0, 3000));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
