// populate: `planebridge plan/apply/import/export/policy` against a real daemon's store, the
// results read back through Plane's official Node SDK (@makeplane/plane-node-sdk): every
// bundled template, apply twice, edit and re-apply, kill -9 mid-apply and resume, CSV/Jira
// imports with bad rows, export -> import -> export, the writeback gate, and a second
// planebridge acting as the upstream Plane (REST client + rate governor).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PlaneClient } from "@makeplane/plane-node-sdk";
import { startDaemon, repoRoot, api } from "./lib/daemon.mjs";

const TPL = path.join(repoRoot, "templates");
const FIX = path.join(repoRoot, "tests", "fixtures", "populate");
const TEMPLATES = ["client-onboarding", "business-setup", "monitoring", "documentation"];

let d, up, client, upClient, tmp;
const slug = "pop";

function cli(dd, args, extraEnv = {}) {
  const r = spawnSync(dd.bin, args, { env: { ...dd.env, ...extraEnv }, encoding: "utf8", timeout: 120000 });
  return { code: r.status, stdout: r.stdout || "", stderr: r.stderr || "", signal: r.signal };
}

function report(r) {
  try {
    return JSON.parse(r.stdout);
  } catch {
    assert.fail(`no JSON report (exit ${r.code}): ${r.stderr}\n${r.stdout.slice(0, 2000)}`);
  }
}

function ok(r) {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}\n${r.stdout.slice(0, 3000)}`);
  return report(r);
}

async function projectByIdent(c, ws, ident) {
  const list = await c.projects.list(ws);
  const rows = list.results || list;
  return rows.find((p) => p.identifier === ident);
}

async function allItems(c, ws, pid) {
  const out = [];
  let page = await c.workItems.list(ws, pid, { per_page: 100 });
  out.push(...page.results);
  while (page.next_page_results) {
    page = await c.workItems.list(ws, pid, { per_page: 100, cursor: page.next_cursor });
    out.push(...page.results);
  }
  return out;
}

const count = (rep, kind, action) => rep.objects.filter((o) => o.kind === kind && (!action || o.action === action)).length;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pb-pop-"));
  d = await startDaemon({ slug, email: "ada@example.com" });
  await d.createUser("linus@example.com", ["--role", "member"]);
  client = new PlaneClient({ baseUrl: d.baseUrl, apiKey: d.apiKey, enableLogging: false });
});

after(async () => {
  if (up) await up.stop();
  if (d) await d.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test("the writeback gate refuses while the policy is disabled, then explicit lets apply write", async () => {
  const r = cli(d, ["apply", path.join(TPL, "monitoring.yaml"), "--workspace", slug, "--vars", path.join(TPL, "monitoring.vars.yaml")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /writeback_policy 'disabled'/);
  const rep = report(r);
  assert.equal(rep.requests.writes, 0);
  assert.equal(rep.requests.refused, 1);
  assert.equal(await projectByIdent(client, slug, "MON"), undefined);
  assert.equal(cli(d, ["policy", slug]).stdout.trim(), `${slug} disabled`);
  assert.equal(cli(d, ["policy", slug, "sometimes"]).code, 2);
  assert.equal(cli(d, ["policy", slug, "explicit"]).stdout.trim(), `${slug} explicit`);
});

test("plan lists what apply would do and writes nothing", async () => {
  const r = cli(d, ["plan", path.join(TPL, "documentation.yaml"), "--workspace", slug, "--vars", path.join(TPL, "documentation.vars.yaml")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^create\s+project\s+documentation\/docs\/project\//m);
  assert.match(r.stdout, /plan: \d+ create, 0 update, 0 unchanged, 0 failed/);
  assert.equal(await projectByIdent(client, slug, "DOCS"), undefined);
  const bad = cli(d, ["plan", path.join(TPL, "documentation.yaml"), "--workspace", slug, "--var", "identifier=X"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /variable 'subject' is required/);
});

for (const name of TEMPLATES) {
  test(`bundled template ${name}: applied, visible through the SDK, second apply changes nothing`, async () => {
    const args = ["apply", path.join(TPL, `${name}.yaml`), "--workspace", slug, "--vars", path.join(TPL, `${name}.vars.yaml`)];
    const rep = ok(cli(d, args));
    assert.equal(rep.failed, 0);
    const vars = fs.readFileSync(path.join(TPL, `${name}.vars.yaml`), "utf8");
    const ident = vars.match(/^identifier:\s*(\S+)/m)[1];
    const p = await projectByIdent(client, slug, ident);
    assert.ok(p, `project ${ident} exists`);
    assert.equal(p.id, rep.project_id);
    assert.equal(p.external_source, "planebridge");
    const items = await allItems(client, slug, p.id);
    assert.equal(items.length, count(rep, "item", "create"));
    assert.ok(items.length >= 5);
    for (const it of items) {
      assert.equal(it.external_source, "planebridge");
      assert.match(it.external_id, new RegExp(`^${name}/`));
      assert.ok(it.description_html.startsWith("<"));
    }
    assert.ok(items.some((it) => it.parent), "hierarchy");
    const labels = await client.labels.list(slug, p.id);
    assert.ok((labels.results || labels).length >= 3);
    if (p.cycle_view) {
      const cycles = (await client.cycles.list(slug, p.id)).results;
      assert.equal(cycles.length, count(rep, "cycle", "create"));
      const inCycle = await client.cycles.listWorkItemsInCycle(slug, p.id, cycles[0].id);
      assert.ok(inCycle.total_results > 0);
    }
    if (p.module_view) {
      const modules = (await client.modules.list(slug, p.id)).results;
      assert.equal(modules.length, count(rep, "module", "create"));
    }
    const blocked = items.find((it) => rep.objects.some((o) => o.kind === "relations" && o.id === it.external_id));
    if (blocked) {
      const rel = await client.workItems.relations.list(slug, p.id, blocked.id);
      assert.ok(rel.blocked_by.length >= 1);
    }
    const again = ok(cli(d, args));
    assert.equal(again.created, 0);
    assert.equal(again.updated, 0);
    assert.equal(again.requests.writes, 0);
    assert.ok(again.requests.total <= 8, `re-apply costs ${again.requests.total} reads`);
    assert.equal((await allItems(client, slug, p.id)).length, items.length);
  });
}

test("an edited template updates only what changed", async () => {
  const src = fs.readFileSync(path.join(TPL, "client-onboarding.yaml"), "utf8");
  const edited = src.replace('name: "Integration testing"', 'name: "Integration testing (edited)"').replace(
    "    priority: medium\n    labels: [testing]", "    priority: urgent\n    labels: [testing]");
  assert.notEqual(edited, src);
  const f = path.join(tmp, "edited.yaml");
  fs.writeFileSync(f, edited);
  const rep = ok(cli(d, ["apply", f, "--workspace", slug, "--vars", path.join(TPL, "client-onboarding.vars.yaml")]));
  assert.equal(rep.created, 0);
  assert.equal(rep.updated, 1);
  assert.equal(rep.requests.writes, 1);
  const upd = rep.objects.find((o) => o.action === "update");
  assert.equal(upd.id, "client-onboarding/acme/item/integration-tests");
  assert.deepEqual(upd.fields.sort(), ["name", "priority"]);
  const p = await projectByIdent(client, slug, "ACME");
  const it = (await allItems(client, slug, p.id)).find((x) => x.external_id === upd.id);
  assert.equal(it.name, "Integration testing (edited)");
  assert.equal(it.priority, "urgent");
});

function bigTemplate(n, ident) {
  const keys = Array.from({ length: n }, (_, i) => `t${i + 1}`);
  const tpl = `template: big\nvariables:\n  keys: {type: list}\nproject:\n  name: Big ${ident}\n  identifier: ${ident}\n` +
    `items:\n  - key: parent\n    name: Parent\n    children:\n      - for_each: keys\n        key: "{{item}}"\n        name: "Task {{item}}"\n        priority: low\n`;
  const f = path.join(tmp, `big-${ident}.yaml`);
  fs.writeFileSync(f, tpl);
  const v = path.join(tmp, `big-${ident}.vars.yaml`);
  fs.writeFileSync(v, `keys: [${keys.join(", ")}]\n`);
  return { f, v };
}

test("an apply killed with SIGKILL mid-way resumes without duplicates", async () => {
  const N = 500;
  const { f, v } = bigTemplate(N, "KILL");
  const child = spawn(d.bin, ["apply", f, "--workspace", slug, "--vars", v], { env: d.env, stdio: "ignore" });
  let exited = false;
  child.on("exit", () => (exited = true));
  let p, n = 0;
  const deadline = Date.now() + 60000;
  while (!exited && Date.now() < deadline) {
    p = p || (await projectByIdent(client, slug, "KILL"));
    if (p) n = (await client.workItems.list(slug, p.id, { per_page: 1 })).total_count;
    if (n >= 20) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(!exited, "apply finished before it could be killed; make the template bigger");
  child.kill("SIGKILL");
  await new Promise((r) => (exited ? r() : child.on("exit", r)));
  p = await projectByIdent(client, slug, "KILL");
  const before = (await allItems(client, slug, p.id)).length;
  assert.ok(before > 0 && before < N + 1, `killed after ${before} items`);
  const rep = ok(cli(d, ["apply", f, "--workspace", slug, "--vars", v]));
  assert.equal(rep.resumed, true);
  assert.equal(rep.failed, 0);
  const items = await allItems(client, slug, p.id);
  assert.equal(items.length, N + 1);
  assert.equal(new Set(items.map((i) => i.external_id)).size, N + 1);
  assert.equal(items.filter((i) => i.parent).length, N);
  const again = ok(cli(d, ["apply", f, "--workspace", slug, "--vars", v]));
  assert.equal(again.requests.writes, 0);
  assert.equal(again.resumed, false);
});

test("a simulated crash right after a write (exit 137) resumes too", async () => {
  const { f, v } = bigTemplate(40, "CRASH");
  const r = cli(d, ["apply", f, "--workspace", slug, "--vars", v], { PB_POPULATE_EXIT_AFTER_WRITES: "17" });
  assert.equal(r.code, 137);
  const rep = ok(cli(d, ["apply", f, "--workspace", slug, "--vars", v]));
  assert.equal(rep.resumed, true);
  const p = await projectByIdent(client, slug, "CRASH");
  const items = await allItems(client, slug, p.id);
  assert.equal(items.length, 41);
  assert.equal(new Set(items.map((i) => i.external_id)).size, 41);
});

test("CSV and Jira imports: hierarchy, unicode, bad rows reported per row, re-import never duplicates", async () => {
  const p = await client.projects.create(slug, { name: "Imports", identifier: "IMP" });
  const cases = [
    ["jira-json", "jira.json", 4, 2],
    ["jira-csv", "jira.csv", 5, 3],
    ["csv", "plane.csv", 5, 6],
    ["csv", "plane-min.csv", 3, 0],
  ];
  let total = 0;
  for (const [kind, file, items, errors] of cases) {
    const r = cli(d, ["import", kind, path.join(FIX, file), "--workspace", slug, "--project", p.id]);
    const rep = report(r);
    assert.equal(rep.failed, 0, JSON.stringify(rep.objects.filter((o) => o.action === "failed")));
    assert.equal(rep.rows.filter((x) => x.error).length, errors, `${file}: ${JSON.stringify(rep.rows)}`);
    for (const row of rep.rows) assert.ok(row.line > 0 && (row.error || row.warning));
    assert.equal(r.code, errors ? 1 : 0);
    assert.equal(count(rep, "item", "create"), items);
    total += items;
    const again = report(cli(d, ["import", kind, path.join(FIX, file), "--workspace", slug, "--project", p.id]));
    assert.equal(again.created, 0);
    assert.equal(again.requests.writes, 0);
  }
  const all = await allItems(client, slug, p.id);
  assert.equal(all.length, total);
  const byX = Object.fromEntries(all.map((i) => [i.external_id, i]));
  assert.equal(byX["PAY-3"].parent, byX["PAY-2"].id);
  assert.equal(byX["PAY-2"].parent, byX["PAY-1"].id);
  assert.equal(byX["OPS-2"].parent, byX["OPS-1"].id);
  assert.equal(byX["OPS-4"].parent, byX["OPS-1"].id);
  assert.equal(byX["web-3"].parent, byX["web-1"].id);
  assert.equal(byX["PAY-2"].name, "Card tokenisation, PCI scope");
  assert.equal(byX["PAY-2"].target_date, "2026-02-15");
  assert.equal(byX["PAY-2"].priority, "urgent");
  // history from Jira: Created and Reporter become created_at / created_by on create
  const members = (await api(d, "GET", `/api/v1/workspaces/${slug}/members/`)).json;
  const linus = members.find((m) => (m.member || m).email === "linus@example.com");
  assert.equal(byX["PAY-2"].created_by, (linus.member || linus).id);
  assert.match(byX["PAY-2"].created_at, /^2026-01-03T09:00:00/);
  assert.match(byX["OPS-1"].created_at, /^2026-01-10T09:00:00/);
  assert.equal(byX["PAY-3"].name, "Fraud rules – Ünïcödé ✓");
  assert.equal(byX["web-2"].description_html, "<p>Plain text with &quot;quotes&quot;, commas<br>and an embedded newline</p>");
  assert.equal(byX["OPS-2"].description_html, "<p>ADF &lt;description&gt; ✓</p>");
  const states = (await client.states.list(slug, p.id)).results;
  const group = (it) => states.find((s) => s.id === it.state).group;
  assert.equal(group(byX["OPS-1"]), "started");
  assert.equal(group(byX["OPS-2"]), "completed");
  assert.equal(group(byX["OPS-4"]), "cancelled");
  assert.equal(group(byX["PAY-4"]), "cancelled");
  const comments = await client.workItems.comments.list(slug, p.id, byX["OPS-4"].id);
  assert.equal((comments.results || comments).length, 2);
  const pay1 = await client.workItems.comments.list(slug, p.id, byX["PAY-1"].id);
  const pc = (pay1.results || pay1).map((c) => c.comment_html).sort();
  assert.deepEqual(pc, ["<p>Kick-off: scope agreed, see &quot;PCI&quot; notes</p>", "<p>Second comment</p>"]);
  const labels = (await client.labels.list(slug, p.id)).results.map((l) => l.name);
  for (const l of ["payments", "backend", "monitoring", "web", "q1", "Epic"]) assert.ok(labels.includes(l), l);
});

test("export -> import -> export gives identical files", async () => {
  assert.equal(cli(d, ["workspace", "create", "pop2"]).code, 0);
  assert.equal(cli(d, ["user", "create", "--email", "ada@example.com", "--workspace", "pop2", "--role", "admin"]).code, 0);
  assert.equal(cli(d, ["user", "create", "--email", "linus@example.com", "--workspace", "pop2", "--role", "member"]).code, 0);
  assert.equal(cli(d, ["policy", "pop2", "explicit"]).code, 0);
  const p = await projectByIdent(client, slug, "ACME");
  const e1 = path.join(tmp, "e1.json"), e2 = path.join(tmp, "e2.json");
  assert.equal(cli(d, ["export", "--workspace", slug, "--project", p.id, "--out", e1]).code, 0);
  const rep = ok(cli(d, ["import", "project", e1, "--workspace", "pop2"]));
  assert.equal(rep.failed, 0);
  assert.equal(cli(d, ["export", "--workspace", "pop2", "--project", rep.project_id, "--out", e2]).code, 0);
  const a = fs.readFileSync(e1, "utf8"), b = fs.readFileSync(e2, "utf8");
  assert.equal(b, a);
  const doc = JSON.parse(a);
  assert.equal(doc.format, "planebridge.project/1");
  assert.ok(doc.items.length >= 10 && doc.cycles.length === 3 && doc.modules.length === 5);
  assert.ok(doc.items.some((i) => i.relations.blocked_by));
  // importing again changes nothing
  const again = ok(cli(d, ["import", "project", e1, "--workspace", "pop2"]));
  assert.equal(again.requests.writes, 0);
});

test("a second planebridge as the upstream Plane: apply through the REST client, checked with the SDK", async () => {
  up = await startDaemon({ slug: "upstream", email: "ada@example.com" });
  await up.createUser("linus@example.com", ["--role", "member"]);
  upClient = new PlaneClient({ baseUrl: up.baseUrl, apiKey: up.apiKey, enableLogging: false });
  const env = { PB_UPSTREAM_API_KEY: up.apiKey };
  for (const name of TEMPLATES) {
    const args = ["apply", path.join(TPL, `${name}.yaml`), "--workspace", slug, "--vars", path.join(TPL, `${name}.vars.yaml`),
      "--upstream", up.baseUrl, "--upstream-workspace", "upstream", "--instance", `up-${name}`];
    const rep = ok(cli(d, args, env));
    assert.equal(rep.target, up.baseUrl);
    assert.equal(rep.failed, 0);
    assert.equal(rep.requests.throttled, 0);
    const p = (await upClient.projects.list("upstream")).results.find((x) => x.id === rep.project_id);
    assert.ok(p);
    const items = await allItems(upClient, "upstream", p.id);
    assert.equal(items.length, count(rep, "item", "create"));
    assert.ok(!JSON.stringify(rep).includes(up.apiKey), "the key never appears in a report");
    const again = ok(cli(d, args, env));
    assert.equal(again.requests.writes, 0);
    assert.equal(again.created + again.updated, 0);
    const plan = cli(d, ["plan", ...args.slice(1)], env);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /plan: 0 create, 0 update, \d+ unchanged, 0 failed/);
  }
  // a connected workspace (`workspace-connect`, key in the vault): apply targets its upstream
  const keyFile = path.join(tmp, "up.key");
  fs.writeFileSync(keyFile, up.apiKey, { mode: 0o600 });
  const con = cli(d, ["workspace-connect", "upstream", "--upstream", up.baseUrl, "--api-key-file", keyFile]);
  assert.equal(con.code, 0, con.stderr);
  const capply = ["apply", path.join(TPL, "documentation.yaml"), "--workspace", "upstream", "--vars", path.join(TPL, "documentation.vars.yaml"),
    "--instance", "connected", "--var", "identifier=CONN", "--var", "subject=Connected Co"];
  const refused = cli(d, capply);
  assert.equal(refused.code, 1, "a connected workspace starts with writeback disabled");
  assert.match(refused.stderr, /disabled/);
  assert.equal(cli(d, ["policy", "upstream", "explicit"]).code, 0);
  const crep = ok(cli(d, capply));
  assert.equal(crep.target, up.baseUrl);
  const cp = (await upClient.projects.list("upstream")).results.find((x) => x.identifier === "CONN");
  assert.ok(cp);
  assert.equal((await allItems(upClient, "upstream", cp.id)).length, count(crep, "item", "create"));
  // the key is needed, and a wrong one gets the upstream's refusal
  const bad = cli(d, ["apply", path.join(TPL, "monitoring.yaml"), "--workspace", slug, "--vars", path.join(TPL, "monitoring.vars.yaml"),
    "--upstream", up.baseUrl, "--upstream-workspace", "upstream", "--instance", "bad"], { PB_UPSTREAM_API_KEY: "pb_wrongwrongwrongwrongwrongwrong12" });
  assert.equal(bad.code, 1);
});
