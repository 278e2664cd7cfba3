// sdk_core: Plane's official Node SDK (@makeplane/plane-node-sdk 0.2.12) against a real
// planebridge daemon (SQLite, or PostgreSQL when PB_TEST_PG_URL is set): users, workspace and
// project members, projects, states, labels, work items (both spellings), activities,
// pagination, fields/expand/order_by, and every error answer Plane gives.
import { test, before, after } from "node:test";
import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { PlaneClient, HttpError } from "@makeplane/plane-node-sdk";
import { startDaemon, api } from "./lib/daemon.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ENVELOPE = ["grouped_by", "sub_grouped_by", "total_count", "next_cursor", "prev_cursor", "next_page_results",
  "prev_page_results", "count", "total_pages", "total_results", "extra_stats", "results"];

let d, client, slug, S;
let me, project, states, label, label2;

// The outbox rows of one object, read straight from the store (sqlite3 / psql).
function outbox(objectId) {
  const sql = `SELECT type, payload FROM ops.outbox WHERE object_id = '${objectId}' ORDER BY id`;
  let r;
  if (d.storeUrl.startsWith("sqlite:")) {
    r = spawnSync("sqlite3", ["-separator", "\t", d.storeUrl.slice(7), sql.replace("ops.outbox", "ops_outbox")], { encoding: "utf8" });
  } else {
    r = spawnSync("psql", [d.storeUrl, "-At", "-F", "\t", "-c", sql.replace("payload", "payload::text")], { encoding: "utf8" });
  }
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).map((line) => {
    const i = line.indexOf("\t");
    return { type: line.slice(0, i), payload: JSON.parse(line.slice(i + 1)) };
  });
}

async function expectHttp(promise, status) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof HttpError, `expected HttpError, got ${e}`);
    assert.equal(e.statusCode, status, `status ${e.statusCode} body ${JSON.stringify(e.response)}`);
    return e.response;
  }
  assert.fail(`expected HTTP ${status}, request succeeded`);
}

before(async () => {
  d = await startDaemon({ slug: "sdk-core" });
  slug = d.slug;
  S = `/api/v1/workspaces/${slug}`;
  client = new PlaneClient({ baseUrl: d.baseUrl, apiKey: d.apiKey, enableLogging: false });
});

after(async () => {
  if (!d) return;
  const log = d.log();
  const exit = await d.stop();
  const out = d.output() + log.slice(-4000);
  // Under ASan: any memory error fails the run, and so does a leak through the API's own code
  // (src/api, plane_store). Leaks elsewhere are reported for their owners, not failed here.
  assert.ok(!/ERROR: AddressSanitizer/.test(out), out.slice(-4000));
  const leaks = out.split(/(?=Direct leak|Indirect leak)/).filter((b) => /leak of/.test(b));
  const ours = leaks.filter((b) => /src\/api\/|plane_store\.c/.test(b));
  assert.equal(ours.length, 0, ours.join("\n"));
  if (leaks.length) console.log(`# daemon leaks outside src/api (for their owners):\n${leaks.join("\n").slice(0, 3000)}`);
  else assert.equal(exit && exit.code, 0, `daemon exit ${JSON.stringify(exit)}: ${out.slice(-2000)}`);
});

test("users/me returns the key's user as UserLite", async () => {
  me = await client.users.me();
  assert.match(me.id, UUID);
  assert.equal(me.email, d.email);
  for (const k of ["first_name", "last_name", "avatar", "avatar_url", "display_name"]) assert.ok(k in me, k);
});

test("auth: missing key 401, invalid key 403", async () => {
  let r = await api(d, "GET", `${S}/projects/`, { key: null });
  assert.equal(r.status, 401);
  assert.deepEqual(r.json, { detail: "Authentication credentials were not provided." });
  r = await api(d, "GET", `${S}/projects/`, { key: "pb_not_a_real_key_0000000000000000" });
  assert.equal(r.status, 403);
  assert.ok(r.json.detail);
});

test("workspace members is a plain array with roles", async () => {
  const members = await client.workspace.getMembers(slug);
  assert.ok(Array.isArray(members));
  const m = members.find((x) => x.id === me.id);
  assert.ok(m);
  assert.equal(m.role, 20);
  assert.equal(m.email, d.email);
});

test("projects: create, identifier upper-cased, default states seeded", async () => {
  project = await client.projects.create(slug, { name: "SDK Core", identifier: "sdk", description: "created by sdk_core" });
  assert.match(project.id, UUID);
  assert.equal(project.identifier, "SDK");
  assert.equal(project.name, "SDK Core");
  assert.equal(project.cycle_view, false);
  assert.equal(project.module_view, false);
  assert.equal(project.is_member, true);
  assert.equal(project.member_role, 20);
  const got = await client.projects.retrieve(slug, project.id);
  assert.equal(got.id, project.id);
  const st = await client.states.list(slug, project.id);
  for (const k of ENVELOPE) assert.ok(k in st, `envelope key ${k}`);
  states = st.results;
  assert.deepEqual(states.map((s) => s.name).sort(), ["Backlog", "Cancelled", "Done", "In Progress", "Todo"]);
  assert.equal(st.total_count, 5, "triage is hidden");
  const backlog = states.find((s) => s.name === "Backlog");
  assert.equal(backlog.default, true);
  assert.equal(states.filter((s) => s.default).length, 1);
  assert.equal(states.find((s) => s.name === "Done").group, "completed");
});

test("projects: 409 on duplicate name and identifier, 400 on bad input", async () => {
  let body = await expectHttp(client.projects.create(slug, { name: "SDK Core", identifier: "OTHER" }), 409);
  assert.deepEqual(body, { name: "The project name is already taken" });
  body = await expectHttp(client.projects.create(slug, { name: "Another", identifier: "SDK" }), 409);
  assert.deepEqual(body, { identifier: "The project identifier is already taken" });
  body = await expectHttp(client.projects.create(slug, { identifier: "NONAME" }), 400);
  assert.deepEqual(body.name, ["This field is required."]);
  body = await expectHttp(client.projects.create(slug, { name: "Bad ident", identifier: "A-B" }), 400);
  assert.ok(body.identifier);
  body = await expectHttp(client.projects.create(slug, { name: "Long ident", identifier: "ABCDEFGHIJKLM" }), 400);
  assert.ok(body.identifier);
});

test("projects: list envelope, update, flags, archive/unarchive", async () => {
  const p2 = await client.projects.create(slug, { name: "Second", identifier: "SEC" });
  const list = await client.projects.list(slug);
  for (const k of ENVELOPE) assert.ok(k in list, k);
  assert.ok(list.results.some((p) => p.id === project.id));
  assert.ok(list.results.some((p) => p.id === p2.id));
  const up = await client.projects.update(slug, p2.id, { description: "changed", cycle_view: true, module_view: true });
  assert.equal(up.description, "changed");
  assert.equal(up.cycle_view, true);
  assert.equal(up.module_view, true);
  let body = await expectHttp(client.projects.update(slug, p2.id, { name: "SDK Core" }), 409);
  assert.deepEqual(body, { name: "The project name is already taken" });
  const hidden = await client.workItems.create(slug, p2.id, { name: "in an archived project" });
  await client.projects.archive(slug, p2.id);
  const arch = await client.projects.retrieve(slug, p2.id);
  assert.ok(arch.archived_at);
  // Plane hides the work items of archived projects
  await expectHttp(client.workItems.retrieve(slug, p2.id, hidden.id), 404);
  assert.equal((await client.workItems.list(slug, p2.id)).total_count, 0);
  await expectHttp(client.workItems.retrieveByIdentifier(slug, `SEC-${hidden.sequence_id}`), 404);
  body = await expectHttp(client.projects.update(slug, p2.id, { description: "x" }), 400);
  assert.ok(body.error);
  await client.projects.unArchive(slug, p2.id);
  assert.equal((await client.projects.retrieve(slug, p2.id)).archived_at, null);
  await client.projects.delete(slug, p2.id);
  await expectHttp(client.projects.retrieve(slug, p2.id), 404);
  // the name and identifier are free again after a delete
  const p3 = await client.projects.create(slug, { name: "Second", identifier: "SEC" });
  await client.projects.delete(slug, p3.id);
});

test("projects: ?order_by= on the list; default is the caller's own sort_order (newest membership first)", async () => {
  const ob = await client.projects.create(slug, { name: "Order B", identifier: "ORDB" });
  const oa = await client.projects.create(slug, { name: "Order A", identifier: "ORDA" });
  const mine = [project.id, ob.id, oa.id];
  // SDK Core (oldest), Order B, Order A (newest); names and identifiers: Order A < Order B < SDK Core
  const NEWEST_FIRST = [oa.id, ob.id, project.id];
  const OLDEST_FIRST = [project.id, ob.id, oa.id];
  const cases = [[undefined, NEWEST_FIRST], ["sort_order", NEWEST_FIRST], ["-sort_order", OLDEST_FIRST],
    ["name", NEWEST_FIRST], ["-name", OLDEST_FIRST], ["created_at", OLDEST_FIRST], ["-created_at", NEWEST_FIRST],
    ["identifier", NEWEST_FIRST], ["-identifier", OLDEST_FIRST]];
  for (const [orderBy, want] of cases) {
    const l = await client.projects.list(slug, orderBy === undefined ? undefined : { order_by: orderBy });
    const got = l.results.map((p) => p.id).filter((id) => mine.includes(id));
    assert.deepEqual(got, want, `order_by=${orderBy}`);
  }
  // a public project the caller has not joined has no sort_order of theirs: last, though newest
  const other = await d.createUser("order-admin@example.com", ["--role", "admin"]);
  const oc = new PlaneClient({ baseUrl: d.baseUrl, apiKey: other.apiKey });
  const pub = await oc.projects.create(slug, { name: "Order Public", identifier: "ORDP", network: 2 });
  let l = await client.projects.list(slug);
  assert.equal(l.results.at(-1).id, pub.id);
  assert.equal(l.results.at(-1).is_member, false);
  l = await client.projects.list(slug, { order_by: "-sort_order" });
  assert.equal(l.results[0].id, pub.id);
  l = await client.projects.list(slug, { order_by: "-created_at" });
  assert.equal(l.results[0].id, pub.id);
  await oc.projects.delete(slug, pub.id);
  // the order holds across pages
  const all = await client.projects.list(slug, { order_by: "-name" });
  const walked = [];
  for (let page = 0; page < all.total_count; page++) {
    const l = await client.projects.list(slug, { order_by: "-name", per_page: 1, cursor: `1:${page}:0` });
    walked.push(...l.results.map((p) => p.id));
  }
  assert.deepEqual(walked, all.results.map((p) => p.id));
  // a field outside the list: 400, as our work-item list answers (Plane itself would fail with 500)
  let body = await expectHttp(client.projects.list(slug, { order_by: "raw" }), 400);
  assert.deepEqual(body, { error: "Invalid order_by field" });
  body = await expectHttp(client.projects.list(slug, { order_by: "-" }), 400);
  assert.deepEqual(body, { error: "Invalid order_by field" });
  await client.projects.delete(slug, ob.id);
  await client.projects.delete(slug, oa.id);
});

test("project members: plain array, add/update/remove through both spellings", async () => {
  const members = await client.projects.getMembers(slug, project.id);
  assert.ok(Array.isArray(members));
  assert.ok(members.some((m) => m.id === me.id));
  const other = await d.createUser("member2@example.com", ["--role", "member"]);
  const ou = await new PlaneClient({ baseUrl: d.baseUrl, apiKey: other.apiKey }).users.me();
  // not a project member yet: project-scoped reads are refused
  let r = await api(d, "GET", `${S}/projects/${project.id}/work-items/`, { key: other.apiKey });
  assert.equal(r.status, 403);
  r = await api(d, "POST", `${S}/projects/${project.id}/members/`, { body: { member: ou.id, role: 15 } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.member, ou.id);
  assert.equal(r.json.role, 15);
  const pmId = r.json.id;
  r = await api(d, "POST", `${S}/projects/${project.id}/project-members/`, { body: { member: ou.id, role: 15 } });
  assert.equal(r.status, 400);
  r = await api(d, "PATCH", `${S}/projects/${project.id}/project-members/${pmId}/`, { body: { role: 5 } });
  assert.equal(r.status, 200);
  assert.equal(r.json.role, 5);
  r = await api(d, "POST", `${S}/projects/${project.id}/work-items/`, { key: other.apiKey, body: { name: "guest write" } });
  assert.equal(r.status, 403, "a guest cannot write");
  r = await api(d, "PATCH", `${S}/projects/${project.id}/members/${pmId}/`, { body: { role: 15 } });
  assert.equal(r.status, 200);
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/`, { key: other.apiKey });
  assert.equal(r.status, 200);
  r = await api(d, "POST", `${S}/projects/${project.id}/members/`, { body: { member: "00000000-0000-4000-8000-000000000000", role: 15 } });
  assert.equal(r.status, 400);
});

test("states: create answers 200, 409 duplicates, default switch, refusals", async () => {
  const doing = await client.states.create(slug, project.id, { name: "Doing", color: "#FF8800", group: "started" });
  assert.match(doing.id, UUID);
  assert.equal(doing.group, "started");
  let r = await api(d, "POST", `${S}/projects/${project.id}/states/`, { body: { name: "Review", color: "#00FF00", group: "started" } });
  assert.equal(r.status, 200, "Plane answers 200 on state create");
  const review = r.json;
  let body = await expectHttp(client.states.create(slug, project.id, { name: "Doing", color: "#000" }), 409);
  assert.equal(body.id, doing.id);
  body = await expectHttp(client.states.create(slug, project.id, { name: "T", color: "#000", group: "triage" }), 400);
  body = await expectHttp(client.states.create(slug, project.id, { name: "Bad", color: "#000", group: "nope" }), 400);
  assert.ok(body.group);
  body = await expectHttp(client.states.create(slug, project.id, { color: "#000" }), 400);
  assert.ok(body.name);
  // default moves
  const upd = await client.states.update(slug, project.id, review.id, { default: true });
  assert.equal(upd.default, true);
  const list = (await client.states.list(slug, project.id)).results;
  assert.equal(list.filter((s) => s.default).length, 1);
  assert.equal(list.find((s) => s.default).id, review.id);
  body = await expectHttp(client.states.delete(slug, project.id, review.id), 400);
  assert.equal(body.error, "Default state cannot be deleted");
  await client.states.update(slug, project.id, states.find((s) => s.name === "Backlog").id, { default: true });
  await client.states.delete(slug, project.id, review.id);
  await expectHttp(client.states.retrieve(slug, project.id, review.id), 404);
  // a state with work items cannot be deleted
  const wi = await client.workItems.create(slug, project.id, { name: "holds Doing", state: doing.id });
  body = await expectHttp(client.states.delete(slug, project.id, doing.id), 400);
  assert.equal(body.error, "The state is not empty, only empty states can be deleted");
  await client.workItems.delete(slug, project.id, wi.id);
});

test("labels: CRUD, parent, 409 on duplicate name", async () => {
  label = await client.labels.create(slug, project.id, { name: "bug", color: "#FF0000" });
  assert.match(label.id, UUID);
  label2 = await client.labels.create(slug, project.id, { name: "backend", color: "#00FF00", parent: label.id });
  assert.equal(label2.parent, label.id);
  const body = await expectHttp(client.labels.create(slug, project.id, { name: "bug" }), 409);
  assert.equal(body.id, label.id);
  await expectHttp(client.labels.create(slug, project.id, { name: "orphan", parent: "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d" }), 400);
  const up = await client.labels.update(slug, project.id, label.id, { description: "defects" });
  assert.equal(up.description, "defects");
  const list = await client.labels.list(slug, project.id);
  assert.equal(list.total_count, 2);
  const tmp = await client.labels.create(slug, project.id, { name: "tmp" });
  await client.labels.delete(slug, project.id, tmp.id);
  await expectHttp(client.labels.retrieve(slug, project.id, tmp.id), 404);
});

test("work items: create, validation errors, sequence ids", async () => {
  const doing = states.find((s) => s.group === "unstarted");
  const a = await client.workItems.create(slug, project.id, {
    name: "Item A", description_html: "<p>hello</p>", state: doing.id, labels: [label.id], priority: "high",
    assignees: [me.id],
  });
  assert.match(a.id, UUID);
  assert.equal(a.project, project.id);
  assert.equal(a.state, doing.id);
  assert.deepEqual(a.labels, [label.id]);
  assert.deepEqual(a.assignees, [me.id]);
  assert.equal(a.priority, "high");
  assert.equal(typeof a.sequence_id, "number");
  const b = await client.workItems.create(slug, project.id, { name: "Item B" });
  assert.equal(b.sequence_id, a.sequence_id + 1);
  assert.equal(b.state, states.find((s) => s.default).id, "default state applied");
  assert.equal(b.priority, "none");
  let body = await expectHttp(client.workItems.create(slug, project.id, { description_html: "<p>x</p>" }), 400);
  assert.deepEqual(body.name, ["This field is required."]);
  body = await expectHttp(client.workItems.create(slug, project.id, { name: "p", priority: "critical" }), 400);
  assert.ok(body.priority);
  body = await expectHttp(client.workItems.create(slug, project.id, { name: "d", start_date: "2026-02-01", target_date: "2026-01-01" }), 400);
  assert.ok(body.non_field_errors);
  body = await expectHttp(client.workItems.create(slug, project.id, { name: "d", start_date: "2026-02-30" }), 400);
  assert.ok(body.start_date);
  body = await expectHttp(client.workItems.create(slug, project.id, { name: "s", state: "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d" }), 400);
  body = await expectHttp(client.workItems.create(slug, project.id, { name: "x".repeat(256) }), 400);
  assert.ok(body.name);
  // labels of other projects / unknown users are dropped silently, as Plane does
  const c = await client.workItems.create(slug, project.id, { name: "Item C", labels: ["5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d"], assignees: ["5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5e"] });
  assert.deepEqual(c.labels, []);
  assert.deepEqual(c.assignees, []);
  // sequence ids are never reused
  await client.workItems.delete(slug, project.id, c.id);
  const e = await client.workItems.create(slug, project.id, { name: "Item E" });
  assert.equal(e.sequence_id, c.sequence_id + 1);
});

test("work items: concurrent creates get distinct, gap-free sequence ids", async () => {
  const made = await Promise.all(Array.from({ length: 24 }, (_, i) =>
    client.workItems.create(slug, project.id, { name: `Concurrent ${i}` })));
  const seqs = made.map((m) => m.sequence_id).sort((a, b) => a - b);
  assert.equal(new Set(seqs).size, seqs.length, `duplicates in ${seqs}`);
  assert.equal(seqs[seqs.length - 1] - seqs[0], seqs.length - 1, `gaps in ${seqs}`);
  await Promise.all(made.map((m) => client.workItems.delete(slug, project.id, m.id)));
});

test("work items: list pages across the cursor, envelope, order_by, fields, expand", async () => {
  for (let i = 0; i < 5; i++) await client.workItems.create(slug, project.id, { name: `Page item ${i}`, priority: ["urgent", "low", "medium", "none", "high"][i] });
  const first = await client.workItems.list(slug, project.id, { per_page: 2 });
  for (const k of ENVELOPE) assert.ok(k in first, k);
  const total = first.total_results;
  assert.equal(first.total_count, total);
  assert.equal(first.count, 2);
  assert.equal(first.total_pages, Math.ceil(total / 2));
  assert.equal(first.prev_cursor, "2:-1:1");
  assert.equal(first.next_cursor, "2:1:0");
  assert.equal(first.prev_page_results, false);
  assert.equal(first.next_page_results, true);
  assert.equal(first.grouped_by, null);
  const seen = new Set(first.results.map((r) => r.id));
  let page = first;
  let pages = 1;
  while (page.next_page_results) {
    page = await client.workItems.list(slug, project.id, { per_page: 2, cursor: page.next_cursor });
    page.results.forEach((r) => seen.add(r.id));
    pages++;
    assert.ok(pages < 50);
  }
  assert.equal(seen.size, total);
  assert.equal(pages, first.total_pages);
  assert.equal(page.prev_page_results, true);
  // default order: newest first
  const all = (await client.workItems.list(slug, project.id)).results;
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].created_at >= all[i].created_at);
  const byPrio = (await client.workItems.list(slug, project.id, { order_by: "priority" })).results;
  const rank = { urgent: 0, high: 1, medium: 2, low: 3, none: 4 };
  for (let i = 1; i < byPrio.length; i++) assert.ok(rank[byPrio[i - 1].priority] <= rank[byPrio[i].priority]);
  const byGroup = (await client.workItems.list(slug, project.id, { order_by: "state__group" })).results;
  const g = { backlog: 0, unstarted: 1, started: 2, completed: 3, cancelled: 4 };
  const groupOf = Object.fromEntries(states.map((s) => [s.id, s.group]));
  for (let i = 1; i < byGroup.length; i++) assert.ok(g[groupOf[byGroup[i - 1].state] ?? "started"] <= g[groupOf[byGroup[i].state] ?? "started"]);
  const seq = (await client.workItems.list(slug, project.id, { order_by: "sequence_id" })).results;
  for (let i = 1; i < seq.length; i++) assert.ok(seq[i - 1].sequence_id < seq[i].sequence_id);
  // fields keeps only the named keys
  const f = await client.workItems.list(slug, project.id, { fields: "id,name,labels" });
  assert.deepEqual(Object.keys(f.results[0]).sort(), ["id", "labels", "name"]);
  // expand swaps ids for objects
  const withLabels = all.find((r) => r.labels.length);
  const x = await client.workItems.retrieve(slug, project.id, withLabels.id, ["state", "labels", "assignees"]);
  assert.equal(typeof x.state, "object");
  assert.ok(x.state.group);
  assert.equal(x.labels[0].name, "bug");
  assert.equal(x.assignees[0].id, me.id);
  // bad paging parameters
  let r = await api(d, "GET", `${S}/projects/${project.id}/work-items/?per_page=1001`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { detail: "Invalid per_page value. Cannot exceed 1000." });
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/?cursor=abc`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { detail: "Invalid cursor parameter." });
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/?per_page=2&cursor=2:-1:1`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, { detail: "Error in parsing" });
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/?per_page=abc`);
  assert.equal(r.status, 400);
  // past the end: an empty page with the same totals
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/?per_page=2&cursor=2:999:0`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.results, []);
  assert.equal(r.json.next_page_results, false);
});

test("work items: update with replace semantics, completed_at, -updated_at order, activities", async () => {
  const it = await client.workItems.create(slug, project.id, { name: "Replace me", labels: [label.id, label2.id], assignees: [me.id] });
  let up = await client.workItems.update(slug, project.id, it.id, { labels: [label2.id] });
  assert.deepEqual(up.labels, [label2.id]);
  assert.deepEqual(up.assignees, [me.id], "untouched when not sent");
  up = await client.workItems.update(slug, project.id, it.id, { assignees: [] });
  assert.deepEqual(up.assignees, []);
  const done = states.find((s) => s.group === "completed");
  up = await client.workItems.update(slug, project.id, it.id, { state: done.id, name: "Done now" });
  assert.ok(up.completed_at, "completed_at set on entering completed");
  assert.equal(up.name, "Done now");
  const newest = await client.workItems.list(slug, project.id, { order_by: "-updated_at", per_page: 1 });
  assert.equal(newest.results[0].id, it.id);
  up = await client.workItems.update(slug, project.id, it.id, { state: states.find((s) => s.group === "started").id });
  assert.equal(up.completed_at, null, "completed_at cleared on leaving completed");
  const got = await client.workItems.retrieve(slug, project.id, it.id);
  assert.equal(got.name, "Done now");
  const acts = await client.workItems.activities.list(slug, project.id, it.id);
  assert.ok(acts.results.length >= 4);
  assert.equal(acts.results[0].verb, "created");
  const fields = acts.results.map((a) => a.field);
  for (const f of ["labels", "assignees", "state", "name"]) assert.ok(fields.includes(f), `activity for ${f}`);
  const st = acts.results.find((a) => a.field === "state");
  assert.ok(st.old_value !== undefined && st.new_value);
  const one = await client.workItems.activities.retrieve(slug, project.id, it.id, st.id);
  assert.equal(one.id, st.id);
  let body = await expectHttp(client.workItems.update(slug, project.id, it.id, { priority: "whatever" }), 400);
  assert.ok(body.priority);
  body = await expectHttp(client.workItems.update(slug, project.id, it.id, { parent: it.id }), 400);
});

test("work items: parent, readable id on both spellings, external id lookup and 409", async () => {
  const parent = await client.workItems.create(slug, project.id, { name: "Parent", external_source: "jira", external_id: "J-1" });
  const child = await client.workItems.create(slug, project.id, { name: "Child", parent: parent.id });
  assert.equal(child.parent, parent.id);
  const byIdent = await client.workItems.retrieveByIdentifier(slug, `SDK-${child.sequence_id}`);
  assert.equal(byIdent.id, child.id);
  let r = await api(d, "GET", `${S}/issues/SDK-${child.sequence_id}/`);
  assert.equal(r.status, 200);
  assert.equal(r.json.id, child.id);
  r = await api(d, "GET", `${S}/work-items/SDK-999999/`);
  assert.equal(r.status, 404);
  r = await api(d, "GET", `${S}/work-items/NOPE-1/`);
  assert.equal(r.status, 404);
  // external lookup: one object, not a page
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/?external_id=J-1&external_source=jira`);
  assert.equal(r.status, 200);
  assert.equal(r.json.id, parent.id);
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/?external_id=J-404&external_source=jira`);
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, { error: "The requested resource does not exist." });
  const body = await expectHttp(client.workItems.create(slug, project.id, { name: "dup", external_source: "jira", external_id: "J-1" }), 409);
  assert.equal(body.id, parent.id);
  assert.equal(body.error, "Issue with the same external id and external source already exists");
  // PATCH to a taken pair: 409 naming the patched row
  const other = await client.workItems.create(slug, project.id, { name: "other", external_source: "jira", external_id: "J-2" });
  const b2 = await expectHttp(client.workItems.update(slug, project.id, other.id, { external_id: "J-1" }), 409);
  assert.equal(b2.id, other.id);
});

test("work items: legacy issues/ spelling, 404s, archived items hidden, delete", async () => {
  let r = await api(d, "POST", `${S}/projects/${project.id}/issues/`, { body: { name: "Legacy" } });
  assert.equal(r.status, 201);
  const id = r.json.id;
  r = await api(d, "GET", `${S}/projects/${project.id}/issues/${id}/`);
  assert.equal(r.status, 200);
  r = await api(d, "PATCH", `${S}/projects/${project.id}/issues/${id}/`, { body: { priority: "urgent" } });
  assert.equal(r.json.priority, "urgent");
  r = await api(d, "GET", `${S}/projects/${project.id}/issues/`);
  assert.ok(r.json.results.some((x) => x.id === id));
  await expectHttp(client.workItems.retrieve(slug, project.id, "5a0e9b9e-6a3e-4b9c-9d6e-0c1f2a3b4c5d"), 404);
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/not-a-uuid/`);
  assert.equal(r.status, 404);
  // archived: hidden from detail GET and lists, still patchable
  const before = (await client.workItems.list(slug, project.id, { per_page: 1 })).total_count;
  r = await api(d, "PATCH", `${S}/projects/${project.id}/issues/${id}/`, { body: { archived_at: "2026-01-01" } });
  assert.equal(r.status, 200);
  r = await api(d, "GET", `${S}/projects/${project.id}/issues/${id}/`);
  assert.equal(r.status, 404);
  const afterCount = (await client.workItems.list(slug, project.id, { per_page: 1 })).total_count;
  assert.equal(afterCount, before - 1);
  r = await api(d, "PATCH", `${S}/projects/${project.id}/issues/${id}/`, { body: { archived_at: null } });
  assert.equal(r.status, 200);
  assert.equal((await client.workItems.list(slug, project.id, { per_page: 1 })).total_count, before);
  await client.workItems.delete(slug, project.id, id);
  await expectHttp(client.workItems.retrieve(slug, project.id, id), 404);
  await expectHttp(client.workItems.delete(slug, project.id, id), 404);
});

test("work items: archive and unarchive through the SDK, archived list", async () => {
  const open = await client.workItems.create(slug, project.id, { name: "Not done" });
  let body = await expectHttp(client.workItems.archive(slug, project.id, open.id), 400);
  assert.equal(body.error, "Can only archive completed or cancelled state group issue");
  const done = await client.workItems.create(slug, project.id, { name: "Done and archived", state: states.find((s) => s.group === "completed").id });
  const before = (await client.workItems.list(slug, project.id, { per_page: 1 })).total_count;
  await client.workItems.archive(slug, project.id, done.id);
  await expectHttp(client.workItems.retrieve(slug, project.id, done.id), 404);
  assert.equal((await client.workItems.list(slug, project.id, { per_page: 1 })).total_count, before - 1);
  await expectHttp(client.workItems.retrieveByIdentifier(slug, `SDK-${done.sequence_id}`), 404);
  const arch = await client.workItems.listArchived(slug, project.id);
  assert.ok(arch.results.some((r) => r.id === done.id && r.archived_at));
  // one archived item (what a mirror asks when the detail GET says 404); a live one is not there
  let one = await api(d, "GET", `${S}/projects/${project.id}/archived-work-items/${done.id}/`);
  assert.equal(one.status, 200);
  assert.equal(one.json.id, done.id);
  assert.ok(one.json.archived_at);
  one = await api(d, "GET", `${S}/projects/${project.id}/archived-issues/${open.id}/`);
  assert.equal(one.status, 404);
  // the external-id lookup still finds archived items, as Plane's does
  await client.workItems.unarchive(slug, project.id, done.id);
  const back = await client.workItems.retrieve(slug, project.id, done.id);
  assert.equal(back.archived_at, null);
  assert.equal((await client.workItems.list(slug, project.id, { per_page: 1 })).total_count, before);
});

test("scoped keys: route scopes and project-restricted keys, readable ids included", async () => {
  const other = await client.projects.create(slug, { name: "Scoped other", identifier: "SCO" });
  const oi = await client.workItems.create(slug, other.id, { name: "elsewhere" });
  const mine = await client.workItems.create(slug, project.id, { name: "here" });
  const mk = (args) => {
    const r = d.cli(["keys", "create", "--user", d.email, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split("\n").pop().trim();
  };
  const readOnly = mk(["--scopes", "issues:read,projects:read"]);
  let r = await api(d, "GET", `${S}/projects/${project.id}/work-items/${mine.id}/`, { key: readOnly });
  assert.equal(r.status, 200);
  r = await api(d, "POST", `${S}/projects/${project.id}/work-items/`, { key: readOnly, body: { name: "nope" } });
  assert.equal(r.status, 403);
  r = await api(d, "DELETE", `${S}/projects/${project.id}/work-items/${mine.id}/`, { key: readOnly });
  assert.equal(r.status, 403);
  const pinned = mk(["--scopes", "issues:read,projects:read", "--workspace", slug, "--project", project.id]);
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items/${mine.id}/`, { key: pinned });
  assert.equal(r.status, 200);
  r = await api(d, "GET", `${S}/projects/${other.id}/work-items/${oi.id}/`, { key: pinned });
  assert.equal(r.status, 403);
  r = await api(d, "GET", `${S}/work-items/SCO-${oi.sequence_id}/`, { key: pinned });
  assert.equal(r.status, 403, "the readable-id route names no project; the handler checks it");
  r = await api(d, "GET", `${S}/work-items/SDK-${mine.sequence_id}/`, { key: pinned });
  assert.equal(r.status, 200);
  await client.projects.delete(slug, other.id);
});

test("outbox: typed events with previous_attributes, written with the change, none for refusals", async () => {
  const p = await client.projects.create(slug, { name: "Events", identifier: "EVT" });
  assert.deepEqual(outbox(p.id).map((e) => e.type), ["project.created"]);
  await client.projects.update(slug, p.id, { description: "new" });
  let ev = outbox(p.id);
  assert.equal(ev[1].type, "project.updated");
  assert.equal(ev[1].payload.previous_attributes.description, "");
  assert.equal(ev[1].payload.data.description, "new");
  assert.ok(ev[1].payload.timestamp);
  await client.projects.archive(slug, p.id);
  await client.projects.unArchive(slug, p.id);
  const wi = await client.workItems.create(slug, p.id, { name: "Evented", assignees: [me.id] });
  assert.deepEqual(outbox(wi.id).map((e) => e.type), ["issue.created", "issue.assigned"]);
  const st = (await client.states.list(slug, p.id)).results;
  await client.workItems.update(slug, p.id, wi.id, { priority: "high", state: st.find((s) => s.group === "completed").id });
  ev = outbox(wi.id);
  const upd = ev.find((e) => e.type === "issue.updated");
  assert.equal(upd.payload.previous_attributes.priority, "none");
  assert.equal(upd.payload.data.priority, "high");
  assert.ok("state" in upd.payload.previous_attributes);
  assert.ok(!("updated_at" in upd.payload.previous_attributes));
  assert.ok(ev.some((e) => e.type === "issue.completed"));
  const n = outbox(wi.id).length;
  await expectHttp(client.workItems.update(slug, p.id, wi.id, { priority: "bogus" }), 400);
  await client.workItems.update(slug, p.id, wi.id, { priority: "high" }); // no change, no event
  assert.equal(outbox(wi.id).length, n, "refused or no-op writes record nothing");
  await client.workItems.delete(slug, p.id, wi.id);
  assert.equal(outbox(wi.id).pop().type, "issue.deleted");
  await client.projects.delete(slug, p.id);
  assert.deepEqual(outbox(p.id).map((e) => e.type),
    ["project.created", "project.updated", "project.archived", "project.updated", "project.deleted"]);
});

test("GET without the trailing slash answers 301; other methods are never redirected", async () => {
  let r = await api(d, "GET", `${S}/projects/${project.id}/work-items`);
  assert.equal(r.status, 301);
  assert.equal(r.headers.get("location"), `${S}/projects/${project.id}/work-items/`);
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items?per_page=1`);
  assert.equal(r.status, 301);
  assert.ok(r.headers.get("location").endsWith("/work-items/?per_page=1"));
  r = await api(d, "GET", `${S}/projects/${project.id}/work-items?per_page=1`, { redirect: "follow" });
  assert.equal(r.status, 200);
  r = await api(d, "POST", `${S}/projects/${project.id}/work-items`, { body: { name: "no slash" } });
  assert.notEqual(r.status, 301);
  assert.ok(r.status >= 400);
});

test("project delete hides it and its work items", async () => {
  const p = await client.projects.create(slug, { name: "Doomed", identifier: "DOOM" });
  const wi = await client.workItems.create(slug, p.id, { name: "x" });
  await client.projects.delete(slug, p.id);
  await expectHttp(client.projects.retrieve(slug, p.id), 404);
  const r = await api(d, "GET", `${S}/projects/${p.id}/work-items/${wi.id}/`);
  assert.ok(r.status === 403 || r.status === 404);
  assert.ok(d.alive(), "daemon still up");
});
