// sdk_more: Plane's official Node SDK (@makeplane/plane-node-sdk 0.2.12) against a real
// planebridge daemon (SQLite, or PostgreSQL when PB_TEST_PG_URL is set) for the second half of
// the API: comments, links, relations, cycles (+ cycle-issues, transfer, archive), modules
// (+ module-issues, archive), intake issues and work-item search. Create, list, paginate,
// update, delete and the error answers Plane gives, through the SDK where it has a call and raw
// HTTP where exact bodies matter.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import http from "node:http";
import { PlaneClient, HttpError } from "@makeplane/plane-node-sdk";
import { startDaemon, api } from "./lib/daemon.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ENVELOPE = ["grouped_by", "sub_grouped_by", "total_count", "next_cursor", "prev_cursor", "next_page_results",
  "prev_page_results", "count", "total_pages", "total_results", "extra_stats", "results"];
const REL_TYPES = ["blocking", "blocked_by", "duplicate", "relates_to", "start_after", "start_before",
  "finish_after", "finish_before"];

let d, client, slug, S, P, me;
let project, bare; // project with cycles/modules/intake on; one with every flag off
const items = [];

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

// The outbox rows recorded for an object, oldest first: [{type, payload}], read straight from the
// daemon's store (sqlite3 or psql) because the outbox has no API of its own.
function outbox(objectId) {
  const sql = `SELECT type, payload FROM ops.outbox WHERE object_id = '${objectId}' ORDER BY id`;
  let r;
  if (d.storeUrl.startsWith("sqlite:")) {
    r = spawnSync("sqlite3", ["-separator", "\t", d.storeUrl.slice(7), sql.replace("ops.outbox", "ops_outbox")],
      { encoding: "utf8" });
  } else {
    r = spawnSync("psql", [d.storeUrl, "-At", "-F", "\t", "-c", sql.replace("payload", "payload::text")], { encoding: "utf8" });
  }
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).map((line) => {
    const i = line.indexOf("\t");
    return { type: line.slice(0, i), payload: JSON.parse(line.slice(i + 1)) };
  });
}

// POSTs an oversize body with node:http and `Expect: 100-continue` (as curl does for large
// bodies) and resolves with the status: the server answers 413 from the headers alone.
function postOversize(p, bytes) {
  return new Promise((resolve, reject) => {
    const u = new URL(d.baseUrl + p);
    let done = false;
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: "POST",
      headers: { "X-Api-Key": d.apiKey, "Content-Type": "application/json", "Content-Length": bytes,
        Expect: "100-continue" },
    }, (res) => {
      done = true;
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, text }));
      res.on("error", () => resolve({ status: res.statusCode, text }));
    });
    req.on("error", (e) => { if (!done) reject(e); });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { req.once("drain", pump); return; }
      }
      req.end();
    };
    req.on("continue", pump);
  });
}

function day(offset) {
  const t = new Date(Date.now() + offset * 86400000);
  return t.toISOString().slice(0, 10);
}

before(async () => {
  d = await startDaemon({ slug: "sdk-more" });
  slug = d.slug;
  S = `/api/v1/workspaces/${slug}`;
  client = new PlaneClient({ baseUrl: d.baseUrl, apiKey: d.apiKey, enableLogging: false });
  me = await client.users.me();
  project = await client.projects.create(slug, {
    name: "More Things", identifier: "MORE", cycle_view: true, module_view: true, intake_view: true,
  });
  bare = await client.projects.create(slug, { name: "Bare", identifier: "BARE" });
  P = `${S}/projects/${project.id}`;
  for (let i = 0; i < 5; i++) {
    items.push(await client.workItems.create(slug, project.id, { name: `Item ${i} searchable-${i}` }));
  }
});

after(async () => {
  if (d) await d.stop();
});

// ------------------------------------------------------------------ comments

test("comments: create, list (envelope, pagination), retrieve, update, delete", async () => {
  const wi = items[0].id;
  const c1 = await client.workItems.comments.create(slug, project.id, wi, { comment_html: "<p>first</p>" });
  assert.match(c1.id, UUID);
  assert.equal(c1.comment_html, "<p>first</p>");
  assert.equal(c1.issue, wi);
  assert.equal(c1.project, project.id);
  assert.equal(c1.actor, me.id);
  assert.equal(c1.access, "INTERNAL");
  assert.equal(c1.created_by, me.id);
  assert.equal(c1.deleted_at, null);
  const c2 = await client.workItems.comments.create(slug, project.id, wi, {
    comment_html: "<p>second ünïcödé ' OR 1=1 --</p>", access: "EXTERNAL", external_source: "github", external_id: "c-2",
  });
  assert.equal(c2.access, "EXTERNAL");
  assert.equal(c2.comment_html, "<p>second ünïcödé ' OR 1=1 --</p>");
  await client.workItems.comments.create(slug, project.id, wi, { comment_html: "<p>third</p>" });

  const all = await client.workItems.comments.list(slug, project.id, wi);
  for (const k of ENVELOPE) assert.ok(k in all, `envelope key ${k}`);
  assert.equal(all.total_results, 3);
  assert.equal(all.results[0].comment_html, "<p>third</p>"); // newest first

  const p1 = await client.workItems.comments.list(slug, project.id, wi, { per_page: 2 });
  assert.equal(p1.count, 2);
  assert.equal(p1.total_pages, 2);
  assert.equal(p1.next_page_results, true);
  const p2 = await client.workItems.comments.list(slug, project.id, wi, { per_page: 2, cursor: p1.next_cursor });
  assert.equal(p2.count, 1);
  assert.equal(p2.next_page_results, false);
  const seen = new Set([...p1.results, ...p2.results].map((c) => c.id));
  assert.equal(seen.size, 3);

  const got = await client.workItems.comments.retrieve(slug, project.id, wi, c1.id);
  assert.equal(got.id, c1.id);
  const bad = await expectHttp(client.workItems.comments.update(slug, project.id, wi, c1.id, { comment_html: "  " }), 400);
  assert.deepEqual(bad, { non_field_errors: ["Invalid HTML passed"] });
  const upd = await client.workItems.comments.update(slug, project.id, wi, c1.id, { comment_html: "<p>edited</p>" });
  assert.equal(upd.comment_html, "<p>edited</p>");
  assert.ok(upd.edited_at);
  assert.notEqual(upd.updated_at, c1.updated_at);

  // fields and expand
  const r = await api(d, "GET", `${P}/work-items/${wi}/comments/${c1.id}/?fields=id,comment_html&expand=actor`);
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json).sort(), ["comment_html", "id"]);
  const ex = await api(d, "GET", `${P}/work-items/${wi}/comments/${c1.id}/?expand=actor`);
  assert.equal(ex.json.actor.id, me.id);
  assert.equal(ex.json.actor.email, d.email);
  const ex2 = await api(d, "GET", `${P}/work-items/${wi}/comments/?expand=issue,project,workspace`);
  const row = ex2.json.results.find((x) => x.id === c1.id);
  assert.equal(row.issue.id, wi);
  assert.equal(row.issue.name, items[0].name);
  assert.equal(row.project.id, project.id);
  assert.equal(row.project.identifier, "MORE");
  assert.equal(row.workspace.slug, slug);

  await client.workItems.comments.delete(slug, project.id, wi, c1.id);
  await expectHttp(client.workItems.comments.retrieve(slug, project.id, wi, c1.id), 404);

  // the outbox holds created, updated (with previous_attributes) and deleted, in order
  const ev = outbox(c1.id);
  assert.deepEqual(ev.map((e) => e.type), ["issue_comment.created", "issue_comment.updated", "issue_comment.deleted"]);
  assert.equal(ev[0].payload.type, "issue_comment.created");
  assert.ok(ev[0].payload.timestamp);
  assert.equal(ev[0].payload.data.comment_html, "<p>first</p>");
  assert.equal(ev[1].payload.data.comment_html, "<p>edited</p>");
  assert.equal(ev[1].payload.previous_attributes.comment_html, "<p>first</p>");
  assert.equal(ev[2].payload.data.id, c1.id);
  const after = await client.workItems.comments.list(slug, project.id, wi);
  assert.equal(after.total_results, 2);
});

test("comments: the issues/ spelling and the 301 for a GET without the slash", async () => {
  const wi = items[1].id;
  const r = await api(d, "POST", `${P}/issues/${wi}/comments/`, { body: { comment_html: "<p>legacy</p>" } });
  assert.equal(r.status, 201);
  const l = await api(d, "GET", `${P}/issues/${wi}/comments`);
  assert.equal(l.status, 301);
  assert.ok(l.headers.get("location").endsWith(`/issues/${wi}/comments/`));
  const l2 = await api(d, "GET", `${P}/issues/${wi}/comments/`);
  assert.equal(l2.json.results[0].id, r.json.id);
});

test("comments: errors — 404s, bad access, 409 on a duplicate external pair, bad JSON", async () => {
  const wi = items[0].id;
  const ghost = "00000000-0000-4000-8000-000000000000";
  let e = await expectHttp(client.workItems.comments.create(slug, project.id, ghost, { comment_html: "x" }), 404);
  assert.deepEqual(e, { error: "The requested resource does not exist." });
  await expectHttp(client.workItems.comments.retrieve(slug, project.id, wi, ghost), 404);
  const none = await client.workItems.comments.list(slug, project.id, ghost); // Plane: a filter, not a 404
  assert.equal(none.total_results, 0);
  e = await expectHttp(client.workItems.comments.create(slug, project.id, wi, { access: "PUBLIC" }), 400);
  assert.deepEqual(e, { access: ['"PUBLIC" is not a valid choice.'] });
  e = await expectHttp(client.workItems.comments.create(slug, project.id, wi, { comment_html: 5 }), 400);
  assert.ok(e.comment_html);
  e = await expectHttp(client.workItems.comments.create(slug, project.id, wi, {
    comment_html: "dup", external_source: "github", external_id: "c-2",
  }), 409);
  assert.equal(e.error, "Issue Comment with the same external id and external source already exists");
  assert.match(e.id, UUID);
  assert.equal(outbox(e.id).length, 1, "a refused write records no event");
  let r = await api(d, "POST", `${P}/work-items/${wi}/comments/`, { raw: "{not json" });
  assert.equal(r.status, 400);
  r = await api(d, "POST", `${P}/work-items/not-a-uuid/comments/`, { body: {} });
  assert.equal(r.status, 404);
  r = await api(d, "POST", `${P}/work-items/${wi}/comments/`, { raw: "[" .repeat(100) + "]".repeat(100) });
  assert.equal(r.status, 400);
  // the daemon is still up and nothing changed
  const list = await client.workItems.comments.list(slug, project.id, wi);
  assert.equal(list.total_results, 2);
});

// ------------------------------------------------------------------ links

test("links: CRUD, duplicate URL 400, URL validation", async () => {
  const wi = items[0].id;
  const l1 = await client.links.create(slug, project.id, wi, { url: "https://example.com/a", title: "A" });
  assert.match(l1.id, UUID);
  assert.equal(l1.url, "https://example.com/a");
  assert.equal(l1.title, "A");
  assert.deepEqual(l1.metadata, {});
  assert.equal(l1.issue, wi);
  const l2 = await client.links.create(slug, project.id, wi, { url: "http://127.0.0.1:8080/x?q=1" });
  let e = await expectHttp(client.links.create(slug, project.id, wi, { url: "https://example.com/a" }), 400);
  assert.deepEqual(e, { error: "URL already exists for this Issue" });
  // the same URL on another work item is fine
  await client.links.create(slug, project.id, items[1].id, { url: "https://example.com/a" });
  e = await expectHttp(client.links.create(slug, project.id, wi, { url: "not a url" }), 400);
  assert.deepEqual(e, { url: ["Invalid URL format."] });
  e = await expectHttp(client.links.create(slug, project.id, wi, { url: "ftp://example.com/file" }), 400);
  assert.deepEqual(e, { url: ["Invalid URL scheme."] });
  e = await expectHttp(client.links.create(slug, project.id, wi, { title: "no url" }), 400);
  assert.deepEqual(e, { url: ["This field is required."] });

  const list = await client.links.list(slug, project.id, wi);
  assert.equal(list.total_results, 2);
  const page = await client.links.list(slug, project.id, wi, { per_page: 1 });
  assert.equal(page.count, 1);
  assert.equal(page.total_pages, 2);
  const got = await client.links.retrieve(slug, project.id, wi, l1.id);
  assert.equal(got.url, l1.url);
  e = await expectHttp(client.links.update(slug, project.id, wi, l2.id, { url: "https://example.com/a" }), 400);
  assert.deepEqual(e, { error: "URL already exists for this Issue" });
  const upd = await client.links.update(slug, project.id, wi, l2.id, { title: "renamed", url: "https://example.org/b" });
  assert.equal(upd.title, "renamed");
  assert.equal(upd.url, "https://example.org/b");
  await client.links.delete(slug, project.id, wi, l1.id);
  await expectHttp(client.links.retrieve(slug, project.id, wi, l1.id), 404);
  // a deleted link's URL can be used again
  await client.links.create(slug, project.id, wi, { url: "https://example.com/a" });
  const r = await api(d, "GET", `${P}/issues/${wi}/links/`);
  assert.equal(r.status, 200);
  assert.equal(r.json.total_results, 2);
});

// ------------------------------------------------------------------ relations

test("relations: all 8 keys, inverse semantics, create, remove", async () => {
  const [A, B, C, D] = items.map((i) => i.id);
  const empty = await client.workItems.relations.list(slug, project.id, A);
  assert.deepEqual(Object.keys(empty).sort(), [...REL_TYPES].sort());
  for (const k of REL_TYPES) assert.deepEqual(empty[k], []);

  const created = await api(d, "POST", `${P}/work-items/${A}/relations/`, {
    body: { relation_type: "blocking", issues: [B, C] },
  });
  assert.equal(created.status, 201);
  assert.equal(created.json.length, 2);
  assert.equal(created.json[0].relation_type, "blocking");
  assert.ok(created.json.every((x) => x.project_id === project.id && typeof x.sequence_id === "number"));
  await client.workItems.relations.create(slug, project.id, A, { relation_type: "start_after", issues: [D] });
  await client.workItems.relations.create(slug, project.id, A, { relation_type: "duplicate", issues: [D] });
  await client.workItems.relations.create(slug, project.id, A, { relation_type: "relates_to", issues: [B] });
  await client.workItems.relations.create(slug, project.id, C, { relation_type: "finish_before", issues: [A] });

  const ra = await client.workItems.relations.list(slug, project.id, A);
  const ids = (k) => ra[k].map((x) => x.issue_id).sort();
  assert.deepEqual(ids("blocking"), [B, C].sort());
  assert.deepEqual(ids("start_after"), [D]);
  assert.deepEqual(ids("duplicate"), [D]);
  assert.deepEqual(ids("relates_to"), [B]);
  assert.deepEqual(ids("finish_after"), [C]);
  assert.deepEqual(ra.blocked_by, []);
  assert.equal(ra.blocking[0].project_id, project.id);

  const rb = await client.workItems.relations.list(slug, project.id, B);
  assert.deepEqual(rb.blocked_by.map((x) => x.issue_id), [A]);
  assert.deepEqual(rb.relates_to.map((x) => x.issue_id), [A]);
  const rd = await api(d, "GET", `${P}/issues/${D}/relations/`);
  assert.deepEqual(rd.json.start_before.map((x) => x.issue_id), [A]);
  assert.deepEqual(rd.json.duplicate.map((x) => x.issue_id), [A]);
  const rc = await client.workItems.relations.list(slug, project.id, C);
  assert.deepEqual(rc.finish_before.map((x) => x.issue_id), [A]);
  assert.deepEqual(rc.blocked_by.map((x) => x.issue_id), [A]);

  // repeating a relation keeps one row
  await client.workItems.relations.create(slug, project.id, A, { relation_type: "blocking", issues: [B] });
  assert.equal((await client.workItems.relations.list(slug, project.id, A)).blocking.length, 2);

  // errors
  let e = await expectHttp(client.workItems.relations.create(slug, project.id, A, { relation_type: "parent_of", issues: [B] }), 400);
  assert.deepEqual(e, { relation_type: ['"parent_of" is not a valid choice.'] });
  e = await expectHttp(client.workItems.relations.create(slug, project.id, A, { issues: [B] }), 400);
  assert.deepEqual(e, { relation_type: ["This field is required."] });
  e = await expectHttp(client.workItems.relations.create(slug, project.id, A, { relation_type: "blocking", issues: ["nope"] }), 400);
  assert.ok(e.issues);
  e = await expectHttp(client.workItems.relations.create(slug, project.id, A, {
    relation_type: "blocking", issues: ["00000000-0000-4000-8000-000000000000"],
  }), 400);
  assert.deepEqual(e, { error: "The payload is not valid" });

  // remove (the SDK's delete posts to relations/remove/)
  await client.workItems.relations.delete(slug, project.id, A, { related_issue: B });
  const ra2 = await client.workItems.relations.list(slug, project.id, A);
  assert.deepEqual(ra2.blocking.map((x) => x.issue_id), [C]);
  assert.deepEqual(ra2.relates_to, []);
  await expectHttp(client.workItems.relations.delete(slug, project.id, A, { related_issue: B }), 404);
});

// ------------------------------------------------------------------ cycles

test("cycles: create, retrieve, list views, update, errors", async () => {
  const cur = await client.cycles.create(slug, project.id, {
    name: "Current", start_date: day(-3), end_date: day(7), owned_by: me.id, project_id: project.id,
  });
  assert.match(cur.id, UUID);
  assert.equal(cur.name, "Current");
  assert.equal(cur.owned_by, me.id);
  assert.equal(cur.project, project.id);
  assert.ok(cur.start_date.startsWith(day(-3)));
  assert.ok(cur.end_date.startsWith(day(7)));
  for (const k of ["total_issues", "backlog_issues", "unstarted_issues", "started_issues", "completed_issues", "cancelled_issues"])
    assert.equal(cur[k], 0, k);
  const up = await client.cycles.create(slug, project.id, { name: "Upcoming", start_date: day(10), end_date: day(20) });
  const past = await client.cycles.create(slug, project.id, { name: "Past", start_date: day(-20), end_date: day(-10) });
  const draft = await client.cycles.create(slug, project.id, { name: "Draft" });
  assert.equal(draft.start_date, null);

  const all = await client.cycles.list(slug, project.id);
  for (const k of ENVELOPE) assert.ok(k in all, k);
  assert.equal(all.total_results, 4);
  const view = async (v) => (await api(d, "GET", `${P}/cycles/?cycle_view=${v}`)).json;
  const current = await view("current");
  assert.ok(Array.isArray(current), "cycle_view=current is a plain array");
  assert.deepEqual(current.map((c) => c.id), [cur.id]);
  assert.deepEqual((await view("upcoming")).results.map((c) => c.id), [up.id]);
  assert.deepEqual((await view("completed")).results.map((c) => c.id), [past.id]);
  assert.deepEqual((await view("draft")).results.map((c) => c.id), [draft.id]);
  assert.deepEqual((await view("incomplete")).results.map((c) => c.id).sort(), [cur.id, up.id, draft.id].sort());
  const pg = await api(d, "GET", `${P}/cycles/?per_page=3`);
  assert.equal(pg.json.count, 3);
  assert.equal(pg.json.next_page_results, true);
  const pg2 = await api(d, "GET", `${P}/cycles/?per_page=3&cursor=${pg.json.next_cursor}`);
  assert.equal(pg2.json.count, 1);

  const got = await client.cycles.retrieve(slug, project.id, cur.id);
  assert.equal(got.name, "Current");
  const upd = await client.cycles.update(slug, project.id, cur.id, { name: "Current sprint", description: "d" });
  assert.equal(upd.name, "Current sprint");
  assert.equal(upd.description, "d");

  let e = await expectHttp(client.cycles.create(slug, project.id, { name: "Half", start_date: day(1) }), 400);
  assert.deepEqual(e, { error: "Both start date and end date are either required or are to be null" });
  e = await expectHttp(client.cycles.create(slug, project.id, { name: "Backwards", start_date: day(5), end_date: day(1) }), 400);
  assert.deepEqual(e, { non_field_errors: ["Start date cannot exceed end date"] });
  e = await expectHttp(client.cycles.create(slug, project.id, { start_date: null }), 400);
  assert.deepEqual(e, { name: ["This field is required."] });
  e = await expectHttp(client.cycles.create(slug, project.id, { name: "x", start_date: "soon", end_date: "later" }), 400);
  assert.ok(e.start_date && e.end_date);
  e = await expectHttp(client.cycles.create(slug, bare.id, { name: "Nope" }), 400);
  assert.deepEqual(e, { non_field_errors: ["Cycles are not enabled for this project"] });
  e = await expectHttp(client.cycles.update(slug, project.id, past.id, { name: "rename" }), 400);
  assert.deepEqual(e, { error: "The Cycle has already been completed so it cannot be edited" });
  // with sort_order in the body Plane applies the whole body (its serializer gets request.data)
  const so = await client.cycles.update(slug, project.id, past.id, { sort_order: 1234, name: "Past (renamed)" });
  assert.equal(so.sort_order, 1234);
  assert.equal(so.name, "Past (renamed)");
  await expectHttp(client.cycles.retrieve(slug, project.id, "00000000-0000-4000-8000-000000000000"), 404);
  // external id 409
  await client.cycles.create(slug, project.id, { name: "Ext", external_source: "jira", external_id: "S-1" });
  e = await expectHttp(client.cycles.create(slug, project.id, { name: "Ext2", external_source: "jira", external_id: "S-1" }), 409);
  assert.equal(e.error, "Cycle with the same external id and external source already exists");

  await client.cycles.delete(slug, project.id, draft.id);
  await expectHttp(client.cycles.retrieve(slug, project.id, draft.id), 404);
  assert.deepEqual(outbox(draft.id).map((x) => x.type), ["cycle.created", "cycle.deleted"]);
  const cev = outbox(cur.id);
  assert.deepEqual(cev.map((x) => x.type), ["cycle.created", "cycle.updated"]);
  assert.deepEqual(cev[1].payload.previous_attributes, { name: "Current", description: "" });
  assert.equal(cev[1].payload.data.name, "Current sprint");
  assert.equal(outbox(past.id).filter((x) => x.type === "cycle.updated").length, 1); // only the sort_order change
});

test("cycles: cycle-issues add/move/list/remove, transfer, archive/unarchive", async () => {
  const c1 = await client.cycles.create(slug, project.id, { name: "Sprint 1", start_date: day(-14), end_date: day(3) });
  const c2 = await client.cycles.create(slug, project.id, { name: "Sprint 2", start_date: day(4), end_date: day(18) });
  const [A, B, C] = items.map((i) => i.id);
  const added = await client.cycles.addWorkItemsToCycle(slug, project.id, c1.id, [A, B, C]);
  assert.ok(Array.isArray(added));
  assert.equal(added.length, 3);
  assert.ok(added.every((x) => x.cycle === c1.id && UUID.test(x.id)));

  const listed = await client.cycles.listWorkItemsInCycle(slug, project.id, c1.id);
  for (const k of ENVELOPE) assert.ok(k in listed, k);
  assert.equal(listed.total_results, 3);
  assert.deepEqual(listed.results.map((i) => i.id).sort(), [A, B, C].sort());
  assert.ok(listed.results.every((i) => typeof i.sequence_id === "number" && i.project === project.id));
  const page = await client.cycles.listWorkItemsInCycle(slug, project.id, c1.id, { per_page: 2 });
  assert.equal(page.count, 2);
  assert.equal(page.next_page_results, true);

  const c1got = await client.cycles.retrieve(slug, project.id, c1.id);
  assert.equal(c1got.total_issues, 3);
  assert.equal(c1got.backlog_issues, 3);

  // adding to another cycle moves the work item out of the first
  await client.cycles.addWorkItemsToCycle(slug, project.id, c2.id, [C]);
  assert.equal((await client.cycles.listWorkItemsInCycle(slug, project.id, c1.id)).total_results, 2);
  assert.equal((await client.cycles.retrieve(slug, project.id, c2.id)).total_issues, 1);

  const one = await api(d, "GET", `${P}/cycles/${c1.id}/cycle-issues/${A}/`);
  assert.equal(one.status, 200);
  assert.equal(one.json.issue, A);
  await client.cycles.removeWorkItemFromCycle(slug, project.id, c1.id, A);
  await expectHttp(client.cycles.removeWorkItemFromCycle(slug, project.id, c1.id, A), 404);
  assert.equal((await client.cycles.listWorkItemsInCycle(slug, project.id, c1.id)).total_results, 1);

  let e = await expectHttp(client.cycles.addWorkItemsToCycle(slug, project.id, c1.id, []), 400);
  assert.deepEqual(e, { error: "Work items are required", code: "MISSING_WORK_ITEMS" });
  e = await expectHttp(client.cycles.addWorkItemsToCycle(slug, project.id, c1.id, ["00000000-0000-4000-8000-000000000000"]), 400);

  // transfer needs an ended cycle
  e = await expectHttp(client.cycles.transferWorkItemsToAnotherCycle(slug, project.id, c1.id, { new_cycle_id: c2.id }), 400);
  assert.deepEqual(e, { error: "The old cycle is not completed yet" });
  e = await expectHttp(client.cycles.transferWorkItemsToAnotherCycle(slug, project.id, c1.id, {}), 400);
  assert.deepEqual(e, { error: "New Cycle Id is required" });
  const old = await client.cycles.create(slug, project.id, { name: "Old", start_date: day(-30), end_date: day(-20) });
  // a completed cycle takes no new work items
  e = await expectHttp(client.cycles.addWorkItemsToCycle(slug, project.id, old.id, [A]), 400);
  assert.deepEqual(e, { code: "CYCLE_COMPLETED", message: "The Cycle has already been completed so no new issues can be added" });
  // an ended cycle with nothing left to move still answers Success
  const ok = await client.cycles.transferWorkItemsToAnotherCycle(slug, project.id, old.id, { new_cycle_id: c2.id });
  assert.deepEqual(ok, { message: "Success" });
  e = await expectHttp(client.cycles.transferWorkItemsToAnotherCycle(slug, project.id, old.id, { new_cycle_id: old.id }), 400);
  assert.deepEqual(e, { error: "Source and destination cycles must be different" });
  e = await expectHttp(client.cycles.transferWorkItemsToAnotherCycle(slug, project.id, old.id,
    { new_cycle_id: "00000000-0000-4000-8000-000000000000" }), 400);
  assert.deepEqual(e, { error: "Destination cycle not found" });
  const older = await client.cycles.create(slug, project.id, { name: "Older", start_date: day(-60), end_date: day(-50) });
  e = await expectHttp(client.cycles.transferWorkItemsToAnotherCycle(slug, project.id, old.id, { new_cycle_id: older.id }), 400);
  assert.deepEqual(e, { error: "The cycle where the issues are transferred is already completed" });

  // archive: only ended cycles
  e = await expectHttp(client.cycles.archive(slug, project.id, c2.id), 400);
  assert.deepEqual(e, { error: "Only completed cycles can be archived" });
  await client.cycles.archive(slug, project.id, old.id);
  await expectHttp(client.cycles.retrieve(slug, project.id, old.id), 404);
  const arch = await client.cycles.listArchived(slug, project.id);
  assert.deepEqual(arch.results.map((c) => c.id), [old.id]);
  assert.ok(arch.results[0].archived_at);
  e = await expectHttp(client.cycles.update(slug, project.id, old.id, { sort_order: 1 }), 400);
  assert.deepEqual(e, { error: "Archived cycle cannot be edited" });
  assert.ok(!(await client.cycles.list(slug, project.id)).results.some((c) => c.id === old.id));
  await client.cycles.unArchive(slug, project.id, old.id);
  assert.equal((await client.cycles.retrieve(slug, project.id, old.id)).archived_at, null);

  // deleting a cycle frees its work items
  await client.cycles.delete(slug, project.id, c2.id);
  await client.cycles.addWorkItemsToCycle(slug, project.id, c1.id, [C]);
  assert.equal((await client.cycles.listWorkItemsInCycle(slug, project.id, c1.id)).total_results, 2);
});

test("cycles: transfer moves unfinished work out of an ended cycle", async () => {
  // make a cycle that is current, fill it, then end it by moving its end date is refused once
  // completed — so fill a current cycle and end it through PATCH while it is still editable
  const c = await client.cycles.create(slug, project.id, { name: "Ending", start_date: day(-5), end_date: day(1) });
  const next = await client.cycles.create(slug, project.id, { name: "Next", start_date: day(2), end_date: day(9) });
  await client.cycles.addWorkItemsToCycle(slug, project.id, c.id, [items[3].id, items[4].id]);
  await client.cycles.update(slug, project.id, c.id, { start_date: day(-5), end_date: day(-1) });
  const r = await client.cycles.transferWorkItemsToAnotherCycle(slug, project.id, c.id, { new_cycle_id: next.id });
  assert.deepEqual(r, { message: "Success" });
  assert.equal((await client.cycles.listWorkItemsInCycle(slug, project.id, next.id)).total_results, 2);
  assert.equal((await client.cycles.listWorkItemsInCycle(slug, project.id, c.id)).total_results, 0);
  const snap = (await api(d, "GET", `${P}/archived-cycles/`)).json; // still not archived
  assert.equal(snap.total_results, 0);
  const again = await api(d, "GET", `${P}/cycles/?cycle_view=completed`);
  const ended = again.json.results.find((x) => x.id === c.id);
  assert.equal(ended.progress_snapshot.total_issues, 2);
  assert.equal(ended.progress_snapshot.backlog_issues, 2);
});

// ------------------------------------------------------------------ modules

test("modules: CRUD, module-issues, archive, errors", async () => {
  const m = await client.modules.create(slug, project.id, { name: "Auth", status: "planned" });
  assert.match(m.id, UUID);
  assert.equal(m.status, "planned");
  assert.equal(m.total_issues, 0);
  const m2 = await client.modules.create(slug, project.id, {
    name: "Billing", start_date: day(0), target_date: day(30), lead: me.id, members: [me.id],
    external_source: "jira", external_id: "EPIC-1",
  });
  assert.equal(m2.lead, me.id);
  assert.deepEqual(m2.members, [me.id]);
  assert.equal(m2.start_date, day(0));

  let e = await expectHttp(client.modules.create(slug, project.id, { name: "Auth" }), 400);
  assert.equal(e.code, "MODULE_NAME_ALREADY_EXISTS");
  assert.equal(e.id, m.id);
  e = await expectHttp(client.modules.create(slug, project.id, { name: "X", external_source: "jira", external_id: "EPIC-1" }), 409);
  assert.equal(e.error, "Module with the same external id and external source already exists");
  assert.equal(e.id, m2.id);
  e = await expectHttp(client.modules.create(slug, project.id, { name: "Y", status: "done" }), 400);
  assert.deepEqual(e, { status: ['"done" is not a valid choice.'] });
  e = await expectHttp(client.modules.create(slug, project.id, { name: "Z", start_date: day(5), target_date: day(1) }), 400);
  assert.deepEqual(e, { non_field_errors: ["Start date cannot exceed target date"] });
  e = await expectHttp(client.modules.create(slug, project.id, { name: "W", start_date: "2026-02-30" }), 400);
  assert.ok(e.start_date);
  e = await expectHttp(client.modules.create(slug, bare.id, { name: "Nope" }), 400);
  assert.deepEqual(e, { non_field_errors: ["Modules are not enabled for this project"] });
  e = await expectHttp(client.modules.create(slug, project.id, {}), 400);
  assert.deepEqual(e, { name: ["This field is required."] });

  const list = await client.modules.list(slug, project.id, { per_page: 1 });
  assert.equal(list.count, 1);
  assert.equal(list.total_results, 2);
  const ext = await api(d, "GET", `${P}/modules/?external_source=jira&external_id=EPIC-1`);
  assert.equal(ext.json.id, m2.id);

  const upd = await client.modules.update(slug, project.id, m.id, { name: "Authentication", status: "in-progress" });
  assert.equal(upd.name, "Authentication");
  assert.equal(upd.status, "in-progress");
  e = await expectHttp(client.modules.update(slug, project.id, m.id, { name: "Billing" }), 400);
  assert.deepEqual(e, { error: "Module with this name already exists" });

  const [A, B] = items.map((i) => i.id);
  const added = await client.modules.addWorkItemsToModule(slug, project.id, m.id, [A, B]);
  assert.ok(Array.isArray(added));
  assert.equal(added.length, 2);
  assert.ok(added.every((x) => x.module === m.id));
  await client.modules.addWorkItemsToModule(slug, project.id, m2.id, [A]); // several modules per item
  const mi = await client.modules.listWorkItemsInModule(slug, project.id, m.id);
  assert.equal(mi.total_results, 2);
  assert.equal((await client.modules.retrieve(slug, project.id, m2.id)).total_issues, 1);
  assert.equal((await client.modules.retrieve(slug, project.id, m.id)).total_issues, 2);
  await client.modules.removeWorkItemFromModule(slug, project.id, m.id, A);
  await expectHttp(client.modules.removeWorkItemFromModule(slug, project.id, m.id, A), 404);
  assert.equal((await client.modules.listWorkItemsInModule(slug, project.id, m.id)).total_results, 1);
  e = await expectHttp(client.modules.addWorkItemsToModule(slug, project.id, m.id, []), 400);
  assert.deepEqual(e, { error: "Issues are required" });

  e = await expectHttp(client.modules.archiveModule(slug, project.id, m.id), 400);
  assert.deepEqual(e, { error: "Only completed or cancelled modules can be archived" });
  await client.modules.update(slug, project.id, m.id, { status: "completed" });
  await client.modules.archiveModule(slug, project.id, m.id);
  await expectHttp(client.modules.retrieve(slug, project.id, m.id), 404);
  assert.deepEqual((await client.modules.listArchivedModules(slug, project.id)).results.map((x) => x.id), [m.id]);
  e = await expectHttp(client.modules.update(slug, project.id, m.id, { name: "again" }), 400);
  assert.deepEqual(e, { error: "Archived module cannot be edited" });
  await client.modules.unArchiveModule(slug, project.id, m.id);
  assert.equal((await client.modules.retrieve(slug, project.id, m.id)).archived_at, null);

  await client.modules.delete(slug, project.id, m2.id);
  await expectHttp(client.modules.retrieve(slug, project.id, m2.id), 404);
  assert.deepEqual(outbox(m2.id).map((x) => x.type), ["module.created", "module.deleted"]);
  const mev = outbox(m.id).map((x) => x.type);
  assert.equal(mev[0], "module.created");
  assert.ok(mev.slice(1).every((t) => t === "module.updated"));
  const renamed = outbox(m.id).find((x) => x.payload.previous_attributes && "name" in x.payload.previous_attributes);
  assert.equal(renamed.payload.previous_attributes.name, "Auth");
  assert.equal((await client.modules.list(slug, project.id)).total_results, 1);
});

test("cycles and modules: a member who is not the owner cannot delete (403)", async () => {
  const other = await d.createUser("member-more@example.com", ["--role", "member"]);
  // add the member to the project through the members API
  const members = await client.workspace.getMembers(slug);
  const u = members.find((x) => x.email === "member-more@example.com");
  assert.ok(u, "member exists in the workspace");
  const add = await api(d, "POST", `${S}/projects/${project.id}/members/`, { body: { member: u.id, role: 15 } });
  assert.ok(add.status === 201 || add.status === 200, `member add ${add.status} ${add.text}`);
  const c = await client.cycles.create(slug, project.id, { name: "Owned" });
  const m = await client.modules.create(slug, project.id, { name: "Owned module" });
  let r = await api(d, "DELETE", `${P}/cycles/${c.id}/`, { key: other.apiKey });
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, { error: "Only admin or creator can delete the cycle" });
  r = await api(d, "DELETE", `${P}/modules/${m.id}/`, { key: other.apiKey });
  assert.equal(r.status, 403);
  assert.deepEqual(r.json, { error: "Only admin or creator can delete the module" });
  // reads are fine
  r = await api(d, "GET", `${P}/cycles/${c.id}/`, { key: other.apiKey });
  assert.equal(r.status, 200);
});

// ------------------------------------------------------------------ intake

test("intake: needs intake_view; create (200), list, retrieve by issue id, accept, delete", async () => {
  let e = await expectHttp(client.intake.create(slug, bare.id, { issue: { name: "nope" } }), 400);
  assert.deepEqual(e, { error: "Intake is not enabled for this project enable it through the project's api" });
  e = await expectHttp(client.intake.create(slug, project.id, { issue: { priority: "high" } }), 400);
  assert.deepEqual(e, { error: "Name is required" });
  e = await expectHttp(client.intake.create(slug, project.id, { issue: { name: "x", priority: "critical" } }), 400);
  assert.deepEqual(e, { error: "Invalid priority" });

  const r = await api(d, "POST", `${P}/intake-issues/`, {
    body: { issue: { name: "Bug from the field", description_html: "<p>it broke</p>", priority: "high" } },
  });
  assert.equal(r.status, 200, r.text);
  const ii = r.json;
  assert.equal(ii.status, -2);
  assert.equal(ii.source, "IN_APP");
  assert.match(ii.issue, UUID);
  assert.equal(ii.issue_detail.name, "Bug from the field");
  assert.equal(ii.issue_detail.priority, "high");
  const second = await client.intake.create(slug, project.id, { issue: { name: "Second" } });

  // the triage work item is hidden from the work-item list
  const wl = await client.workItems.list(slug, project.id, { per_page: 100 });
  assert.ok(!wl.results.some((w) => w.id === ii.issue));

  const list = await client.intake.list(slug, project.id);
  for (const k of ENVELOPE) assert.ok(k in list, k);
  assert.equal(list.total_results, 2);
  const got = await client.intake.retrieve(slug, project.id, ii.issue);
  assert.equal(got.id, ii.id);
  await expectHttp(client.intake.retrieve(slug, project.id, ii.id), 404); // keyed by the Issue id

  const acc = await client.intake.update(slug, project.id, ii.issue, { status: 1, issue: { name: "Accepted bug" } });
  assert.equal(acc.status, 1);
  assert.equal(acc.issue_detail.name, "Accepted bug");
  const wl2 = await client.workItems.list(slug, project.id, { per_page: 100 });
  const now = wl2.results.find((w) => w.id === ii.issue);
  assert.ok(now, "an accepted intake item becomes a listed work item");
  e = await expectHttp(client.intake.update(slug, project.id, ii.issue, { status: 7 }), 400);
  assert.ok(e.status);

  const rej = await client.intake.update(slug, project.id, second.issue, { status: -1 });
  assert.equal(rej.status, -1);
  await client.intake.delete(slug, project.id, second.issue);
  await expectHttp(client.intake.retrieve(slug, project.id, second.issue), 404);
  await expectHttp(client.workItems.retrieve(slug, project.id, second.issue), 404);
  // the accepted item survives its intake row's deletion
  await client.intake.delete(slug, project.id, ii.issue);
  const still = await client.workItems.retrieve(slug, project.id, ii.issue);
  assert.equal(still.name, "Accepted bug");
});

// ------------------------------------------------------------------ search

test("search: name, sequence id, identifier, project filter, limit, errors", async () => {
  // "3" is also a whole number, so sequence_id 3 matches too (Plane's \b\d+\b rule)
  let r = await client.workItems.search(slug, "searchable-3", project.id);
  assert.deepEqual(Object.keys(r), ["issues"]);
  assert.deepEqual(r.issues.map((x) => x.id).sort(), [items[3].id, items.find((i) => i.sequence_id === 3).id].sort());
  const hit = r.issues.find((x) => x.id === items[3].id);
  assert.equal(hit.id, items[3].id);
  assert.equal(hit.project__identifier, "MORE");
  assert.equal(hit.project_id, project.id);
  assert.equal(hit.workspace__slug, slug);
  assert.equal(hit.sequence_id, items[3].sequence_id);
  assert.equal(hit.name, items[3].name);

  const raw = await api(d, "GET", `${S}/work-items/search/?search=${items[2].sequence_id}&project_id=${project.id}`);
  assert.equal(raw.status, 200);
  assert.ok(raw.json.issues.some((x) => x.id === items[2].id));
  const lim = await api(d, "GET", `${S}/work-items/search/?search=searchable&limit=2`);
  assert.equal(lim.json.issues.length, 2);
  const ident = await api(d, "GET", `${S}/issues/search/?search=more&limit=50`);
  assert.ok(ident.json.issues.length >= 5);
  const other = await client.workItems.create(slug, bare.id, { name: "searchable elsewhere" });
  const scoped = await api(d, "GET", `${S}/work-items/search/?search=searchable&project_id=${bare.id}`);
  assert.deepEqual(scoped.json.issues.map((x) => x.id), [other.id]);
  const wide = await api(d, "GET", `${S}/work-items/search/?search=searchable&project_id=${bare.id}&workspace_search=true&limit=50`);
  assert.ok(wide.json.issues.length >= 6);
  const meta = await api(d, "GET", `${S}/work-items/search/?search=${encodeURIComponent("%' OR 'x'='x --")}`);
  assert.equal(meta.status, 200);
  assert.deepEqual(meta.json.issues, []);
  const miss = await api(d, "GET", `${S}/work-items/search/`);
  assert.equal(miss.status, 400);
  const bad = await api(d, "GET", `${S}/work-items/search/?search=x&limit=abc`);
  assert.equal(bad.status, 400);
  const noauth = await api(d, "GET", `${S}/work-items/search/?search=x`, { key: null });
  assert.equal(noauth.status, 401);
});

// ------------------------------------------------------------------ hostile input

test("hostile input: each gets a clear 4xx, the daemon stays up, nothing changes", async () => {
  const wi = items[4].id;
  const before = {
    comments: (await client.workItems.comments.list(slug, project.id, wi)).total_results,
    links: (await client.links.list(slug, project.id, wi)).total_results,
    cycles: (await client.cycles.list(slug, project.id)).total_results,
    modules: (await client.modules.list(slug, project.id)).total_results,
  };
  const posts = [
    `${P}/work-items/${wi}/comments/`, `${P}/work-items/${wi}/links/`, `${P}/work-items/${wi}/relations/`,
    `${P}/cycles/`, `${P}/modules/`, `${P}/intake-issues/`,
  ];
  for (const url of posts) {
    for (const raw of ["{", "{\"name\": }", "[1,2]", "\"str\"", "null", "[".repeat(100) + "]".repeat(100),
      "{\"a\":" .repeat(100) + "1" + "}".repeat(100)]) {
      const r = await api(d, "POST", url, { raw });
      assert.ok(r.status === 400, `${url} ${raw.slice(0, 20)} -> ${r.status} ${r.text}`);
      assert.ok(r.json && typeof r.json === "object", "a JSON error body");
    }
    const big = await postOversize(url, 3 << 20);
    assert.equal(big.status, 413, `${url} oversize -> ${big.status}`);
  }
  // wrong types
  let r = await api(d, "POST", `${P}/cycles/`, { body: { name: 123 } });
  assert.equal(r.status, 400);
  assert.ok(r.json.name);
  r = await api(d, "POST", `${P}/modules/`, { body: { name: "T", members: "me" } });
  assert.equal(r.status, 400);
  assert.ok(r.json.members);
  r = await api(d, "POST", `${P}/modules/`, { body: { name: "T", lead: "not-a-uuid" } });
  assert.equal(r.status, 400);
  assert.ok(r.json.lead);
  r = await api(d, "POST", `${P}/work-items/${wi}/relations/`, { body: { relation_type: "blocking", issues: "x" } });
  assert.equal(r.status, 400);
  r = await api(d, "POST", `${P}/work-items/${wi}/links/`, { body: { url: ["https://example.com"] } });
  assert.equal(r.status, 400);
  r = await api(d, "POST", `${P}/work-items/${wi}/comments/`, { body: { comment_html: { a: 1 } } });
  assert.equal(r.status, 400);
  r = await api(d, "POST", `${P}/cycles/${items[0].id}/cycle-issues/`, { body: { issues: [items[0].id] } });
  assert.equal(r.status, 404, "a work item id is not a cycle id");
  r = await api(d, "GET", `${P}/cycles/not-a-uuid/`);
  assert.equal(r.status, 404);
  r = await api(d, "GET", `${P}/cycles/?per_page=5000`);
  assert.equal(r.status, 400);
  r = await api(d, "GET", `${P}/cycles/?cursor=bogus`);
  assert.equal(r.status, 400);
  assert.ok(d.alive());
  const after = {
    comments: (await client.workItems.comments.list(slug, project.id, wi)).total_results,
    links: (await client.links.list(slug, project.id, wi)).total_results,
    cycles: (await client.cycles.list(slug, project.id)).total_results,
    modules: (await client.modules.list(slug, project.id)).total_results,
  };
  assert.deepEqual(after, before);

  // unknown fields are ignored; SQL metacharacters and unicode round-trip exactly
  const nasty = "Robert'); DROP TABLE work_plane_items;-- \"\\ % _ 🚀 ñ 中文 \u0001";
  const c = await client.cycles.create(slug, project.id, { name: nasty, description: nasty, bogus_field: 1 });
  assert.equal(c.name, nasty);
  assert.equal(c.description, nasty);
  assert.ok(!("bogus_field" in c));
  const m = await client.modules.create(slug, project.id, { name: nasty, description: nasty });
  assert.equal((await client.modules.retrieve(slug, project.id, m.id)).name, nasty);
  const cm = await client.workItems.comments.create(slug, project.id, wi, { comment_html: nasty, external_source: nasty, external_id: nasty });
  assert.equal((await client.workItems.comments.retrieve(slug, project.id, wi, cm.id)).external_id, nasty);
  const ln = await client.links.create(slug, project.id, wi, { url: "https://example.com/?q=%27%20OR%201=1", title: nasty });
  assert.equal(ln.title, nasty);
  const found = await api(d, "GET", `${S}/work-items/search/?search=${encodeURIComponent("searchable-4")}&project_id=${project.id}`);
  assert.ok(found.json.issues.some((x) => x.id === wi));
});

test("deleting a work item hides its comments, links and relations", async () => {
  const victim = await client.workItems.create(slug, project.id, { name: "Doomed" });
  const keep = items[1].id;
  const c = await client.workItems.comments.create(slug, project.id, victim.id, { comment_html: "<p>bye</p>" });
  const l = await client.links.create(slug, project.id, victim.id, { url: "https://example.com/doomed" });
  await client.workItems.relations.create(slug, project.id, victim.id, { relation_type: "relates_to", issues: [keep] });
  assert.ok((await client.workItems.relations.list(slug, project.id, keep)).relates_to.some((x) => x.issue_id === victim.id));
  await client.workItems.delete(slug, project.id, victim.id);
  assert.equal((await client.workItems.comments.list(slug, project.id, victim.id)).total_results, 0);
  assert.equal((await client.links.list(slug, project.id, victim.id)).total_results, 0);
  await expectHttp(client.workItems.comments.retrieve(slug, project.id, victim.id, c.id), 404);
  await expectHttp(client.links.retrieve(slug, project.id, victim.id, l.id), 404);
  assert.ok(!(await client.workItems.relations.list(slug, project.id, keep)).relates_to.some((x) => x.issue_id === victim.id));
  assert.deepEqual((await client.workItems.relations.list(slug, project.id, victim.id)).relates_to, []);
});

test("project summary: counts as Plane's ProjectSummaryAPIEndpoint, ?fields=, workspace admins only", async () => {
  const sp = await client.projects.create(slug, {
    name: "Summary", identifier: "SUMM", cycle_view: true, module_view: true, intake_view: true,
  });
  const SP = `${S}/projects/${sp.id}`;
  const ALL = { members: 1, states: 5, labels: 0, cycles: 0, modules: 0, issues: 0, intakes: 0, pages: 0 };
  let r = await api(d, "GET", `${SP}/summary/`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ["id", "name", "identifier", "counts"]);
  assert.equal(r.json.id, sp.id);
  assert.equal(r.json.name, "Summary");
  assert.equal(r.json.identifier, "SUMM");
  assert.deepEqual(r.json.counts, ALL, "a new project: its creator and the five visible default states");

  await client.labels.create(slug, sp.id, { name: "one" });
  await client.labels.create(slug, sp.id, { name: "two" });
  const gone = await client.labels.create(slug, sp.id, { name: "gone" });
  await client.labels.delete(slug, sp.id, gone.id);
  await client.cycles.create(slug, sp.id, { name: "Sprint" });
  await client.modules.create(slug, sp.id, { name: "Area" });
  await client.workItems.create(slug, sp.id, { name: "kept" });
  const del = await client.workItems.create(slug, sp.id, { name: "deleted" });
  await client.workItems.delete(slug, sp.id, del.id);
  r = await api(d, "POST", `${SP}/intake-issues/`, { body: { issue: { name: "from the field" } } });
  assert.equal(r.status, 200, r.text);
  r = await api(d, "GET", `${SP}/summary/`);
  assert.equal(r.status, 200, r.text);
  // the intake's work item sits in the triage state: counted under intakes, not issues
  assert.deepEqual(r.json.counts, { ...ALL, labels: 2, cycles: 1, modules: 1, issues: 1, intakes: 1 });

  // ?fields=: names stripped, unknown ones dropped; nothing left means every count
  r = await api(d, "GET", `${SP}/summary/?fields=issues,%20labels%20,bogus,,`);
  assert.deepEqual(r.json.counts, { labels: 2, issues: 1 });
  r = await api(d, "GET", `${SP}/summary/?fields=bogus`);
  assert.deepEqual(Object.keys(r.json.counts).sort(), Object.keys(ALL).sort());
  r = await api(d, "GET", `${SP}/summary/?fields=`);
  assert.equal(Object.keys(r.json.counts).length, 8);

  // archived projects are still summarised
  await client.projects.archive(slug, sp.id);
  r = await api(d, "GET", `${SP}/summary/?fields=members`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.counts, { members: 1 });
  await client.projects.unArchive(slug, sp.id);

  // WorkSpaceAdminPermission: a workspace Member is refused even as a project member
  const member = await d.createUser("summary-member@example.com", ["--role", "member"]);
  const mu = await new PlaneClient({ baseUrl: d.baseUrl, apiKey: member.apiKey }).users.me();
  r = await api(d, "POST", `${SP}/members/`, { body: { member: mu.id, role: 15 } });
  assert.equal(r.status, 201, r.text);
  r = await api(d, "GET", `${SP}/summary/`, { key: member.apiKey });
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(r.json, { detail: "You do not have permission to perform this action." });
  r = await api(d, "GET", `${SP}/summary/`, { key: null });
  assert.equal(r.status, 401);
  // ... while any workspace Admin may read it, project member or not
  const admin2 = await d.createUser("summary-admin@example.com", ["--role", "admin"]);
  r = await api(d, "GET", `${SP}/summary/?fields=members`, { key: admin2.apiKey });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.counts, { members: 2 });
  r = await api(d, "GET", `${SP}/work-items/`, { key: admin2.apiKey });
  assert.equal(r.status, 403, "not a project member");

  // missing, malformed and deleted projects
  r = await api(d, "GET", `${S}/projects/00000000-0000-4000-8000-000000000000/summary/`);
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, { error: "Project not found" });
  r = await api(d, "GET", `${S}/projects/not-a-uuid/summary/`);
  assert.equal(r.status, 404);
  r = await api(d, "POST", `${SP}/summary/`, { body: {} });
  assert.equal(r.status, 405);
  await client.projects.delete(slug, sp.id);
  r = await api(d, "GET", `${SP}/summary/`);
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, { error: "Project not found" });
});

test("the daemon is still healthy after every error case", async () => {
  const r = await fetch(`${d.baseUrl}/readyz`);
  assert.equal(r.status, 200);
  assert.ok(d.alive());
});
