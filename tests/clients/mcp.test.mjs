// mcp: Plane's npm MCP server (@makeplane/plane-mcp-server 0.1.5) driven over stdio by the MCP
// SDK's Client + StdioClientTransport, against a real planebridge daemon (SQLite, or
// PostgreSQL when PB_TEST_PG_URL is set). The server reads PLANE_API_KEY, PLANE_API_HOST_URL
// and PLANE_WORKSPACE_SLUG, uses the legacy `issues/` spellings, never paginates, and follows
// the 301 for `get_issue_comments` (its one path without a trailing slash).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { startDaemon, api } from "./lib/daemon.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(here, "node_modules", "@makeplane", "plane-mcp-server", "build", "index.js");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let d, client, transport, S;
let me, project, state, label, issue, issue2, cycle, cycle2, mod;

function day(offset) {
  return new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
}

// Calls a tool; returns the parsed JSON of its text (or the text itself).
async function call(name, args = {}) {
  const r = await client.callTool({ name, arguments: args });
  assert.ok(!r.isError, `${name} failed: ${JSON.stringify(r.content)}`);
  const text = r.content?.[0]?.text ?? "";
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// Calls a tool that must fail; returns the error text.
async function callFails(name, args, status) {
  const r = await client.callTool({ name, arguments: args });
  assert.ok(r.isError, `${name} unexpectedly succeeded: ${JSON.stringify(r.content)}`);
  const text = r.content?.[0]?.text ?? "";
  if (status) assert.match(text, new RegExp(`status code ${status}`), text);
  return text;
}

before(async () => {
  d = await startDaemon({ slug: "mcp-ws" });
  S = `/api/v1/workspaces/${d.slug}`;
  transport = new StdioClientTransport({
    command: process.execPath,
    args: [SERVER],
    env: {
      PATH: process.env.PATH || "",
      HOME: process.env.HOME || "",
      PLANE_API_KEY: d.apiKey,
      PLANE_API_HOST_URL: d.baseUrl,
      PLANE_WORKSPACE_SLUG: d.slug,
      SCARF_ANALYTICS: "false",
    },
    stderr: "ignore",
  });
  client = new Client({ name: "planebridge-mcp-test", version: "1.0.0" });
  await client.connect(transport);
});

after(async () => {
  try {
    if (client) await client.close();
  } finally {
    if (d) await d.stop();
  }
});

test("the server lists its tools", async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const n of ["get_user", "get_projects", "create_issue", "add_issue_comment", "get_issue_comments",
    "create_cycle", "add_cycle_issues", "transfer_cycle_issues", "create_module", "add_module_issues"])
    assert.ok(names.includes(n), n);
});

test("user, workspace members, projects", async () => {
  me = await call("get_user");
  assert.match(me.id, UUID);
  assert.equal(me.email, d.email);
  const members = await call("get_workspace_members");
  assert.ok(Array.isArray(members));
  assert.ok(members.some((m) => m.id === me.id));
  project = await call("create_project", { name: "MCP Project", identifier: "mcp p" });
  assert.match(project.id, UUID);
  assert.equal(project.identifier, "MCPP");
  const projects = await call("get_projects");
  assert.ok(projects.some((p) => p.id === project.id && p.identifier === "MCPP"));
  await callFails("create_project", { name: "MCP Project", identifier: "MCPQ" }, 409);
  // cycles and modules are off on a new project, as in Plane; turn them on
  const r = await api(d, "PATCH", `${S}/projects/${project.id}/`, { body: { cycle_view: true, module_view: true } });
  assert.equal(r.status, 200, r.text);
});

test("states and labels", async () => {
  const states = await call("list_states", { project_id: project.id });
  assert.ok(states.results.length >= 5);
  state = await call("create_state", { project_id: project.id, state_data: { name: "Doing", color: "#FF8800", group: "started" } });
  assert.equal(state.group, "started");
  const got = await call("get_state", { project_id: project.id, state_id: state.id });
  assert.equal(got.name, "Doing");
  label = await call("create_label", { project_id: project.id, label_data: { name: "mcp-label", color: "#00AAFF" } });
  assert.match(label.id, UUID);
  const labels = await call("list_labels", { project_id: project.id });
  assert.ok(labels.results.some((l) => l.id === label.id));
});

test("work items: create, list, get by readable id, update", async () => {
  issue = await call("create_issue", {
    project_id: project.id,
    issue_data: { name: "MCP item", description_html: "<p>from an agent</p>", state: state.id, labels: [label.id] },
  });
  assert.match(issue.id, UUID);
  assert.equal(issue.state, state.id);
  assert.deepEqual(issue.labels, [label.id]);
  assert.equal(issue.sequence_id, 1);
  issue2 = await call("create_issue", { project_id: project.id, issue_data: { name: "Second", description_html: "<p>2</p>" } });
  const list = await call("list_project_issues", { project_id: project.id });
  assert.equal(list.total_count, 2);
  assert.equal(list.count, 2);
  assert.ok(list.results.some((i) => i.id === issue.id && i.state.id === state.id));
  const byId = await call("get_issue_using_readable_identifier", { project_identifier: "MCPP", issue_identifier: "1" });
  assert.equal(byId.id, issue.id);
  const upd = await call("update_issue", { project_id: project.id, issue_id: issue.id, issue_data: { name: "MCP item (edited)", priority: "high" } });
  assert.equal(upd.name, "MCP item (edited)");
  assert.equal(upd.priority, "high");
  await callFails("get_issue_using_readable_identifier", { project_identifier: "MCPP", issue_identifier: "999" }, 404);
});

test("comments: add, then list through the 301 redirect", async () => {
  const c = await call("add_issue_comment", { project_id: project.id, issue_id: issue.id, comment_html: "<p>agent says hi</p>" });
  assert.match(c.id, UUID);
  assert.equal(c.comment_html, "<p>agent says hi</p>");
  assert.equal(c.actor, me.id);
  const list = await call("get_issue_comments", { project_id: project.id, issue_id: issue.id });
  assert.equal(list.total_results, 1);
  assert.equal(list.results[0].id, c.id);
  await callFails("add_issue_comment", { project_id: project.id, issue_id: "00000000-0000-4000-8000-000000000000", comment_html: "x" }, 404);
});

test("cycles: create, get, update, list, cycle issues, transfer, delete", async () => {
  cycle = await call("create_cycle", {
    project_id: project.id,
    cycle_data: { name: "MCP sprint", project_id: project.id, start_date: day(-2), end_date: day(5) },
  });
  assert.match(cycle.id, UUID);
  assert.equal(cycle.owned_by, me.id);
  cycle2 = await call("create_cycle", { project_id: project.id, cycle_data: { name: "Next sprint", project_id: project.id } });
  const got = await call("get_cycle", { project_id: project.id, cycle_id: cycle.id });
  assert.equal(got.name, "MCP sprint");
  const upd = await call("update_cycle", { project_id: project.id, cycle_id: cycle.id, cycle_data: { description: "agent-run" } });
  assert.equal(upd.description, "agent-run");
  const list = await call("list_cycles", { project_id: project.id });
  assert.equal(list.total_results, 2);

  const added = await call("add_cycle_issues", { project_id: project.id, cycle_id: cycle.id, issues: [issue.id, issue2.id] });
  assert.ok(Array.isArray(added));
  assert.equal(added.length, 2);
  const ci = await call("list_cycle_issues", { project_id: project.id, cycle_id: cycle.id });
  assert.equal(ci.total_results, 2);
  assert.deepEqual(ci.results.map((i) => i.id).sort(), [issue.id, issue2.id].sort());
  const removed = await call("delete_cycle_issue", { project_id: project.id, cycle_id: cycle.id, issue_id: issue2.id });
  assert.equal(removed, "Issue removed from cycle successfully");
  assert.equal((await call("list_cycle_issues", { project_id: project.id, cycle_id: cycle.id })).total_results, 1);

  // the cycle is still running: Plane refuses the transfer
  await callFails("transfer_cycle_issues", { project_id: project.id, cycle_id: cycle.id, new_cycle_id: cycle2.id }, 400);
  await callFails("create_cycle", { project_id: project.id, cycle_data: { name: "Half", project_id: project.id, start_date: day(1) } }, 400);
  await callFails("get_cycle", { project_id: project.id, cycle_id: "00000000-0000-4000-8000-000000000000" }, 404);

  const del = await call("delete_cycle", { project_id: project.id, cycle_id: cycle2.id });
  assert.equal(del, "Cycle deleted successfully");
  await callFails("get_cycle", { project_id: project.id, cycle_id: cycle2.id }, 404);
});

test("modules: create, get, update, list, module issues, delete", async () => {
  mod = await call("create_module", { project_id: project.id, module_data: { name: "MCP module" } });
  assert.match(mod.id, UUID);
  assert.equal(mod.status, "planned");
  const got = await call("get_module", { project_id: project.id, module_id: mod.id });
  assert.equal(got.name, "MCP module");
  const upd = await call("update_module", { project_id: project.id, module_id: mod.id, module_data: { status: "in-progress", lead: me.id } });
  assert.equal(upd.status, "in-progress");
  assert.equal(upd.lead, me.id);
  const list = await call("list_modules", { project_id: project.id });
  assert.equal(list.total_results, 1);
  const added = await call("add_module_issues", { project_id: project.id, module_id: mod.id, issues: [issue.id, issue2.id] });
  assert.equal(added.length, 2);
  const mi = await call("list_module_issues", { project_id: project.id, module_id: mod.id });
  assert.equal(mi.total_results, 2);
  await call("delete_module_issue", { project_id: project.id, module_id: mod.id, issue_id: issue.id });
  assert.equal((await call("list_module_issues", { project_id: project.id, module_id: mod.id })).total_results, 1);
  await callFails("create_module", { project_id: project.id, module_data: { name: "MCP module" } }, 400);
  await call("delete_module", { project_id: project.id, module_id: mod.id });
  await callFails("get_module", { project_id: project.id, module_id: mod.id }, 404);
});

test("cleanup tools: label delete, and a wrong key fails every call", async () => {
  await call("delete_label", { project_id: project.id, label_id: label.id });
  await callFails("get_label", { project_id: project.id, label_id: label.id }, 404);

  const bad = new StdioClientTransport({
    command: process.execPath,
    args: [SERVER],
    env: {
      PATH: process.env.PATH || "", HOME: process.env.HOME || "",
      PLANE_API_KEY: "pb_wrong_key_000000000000000000", PLANE_API_HOST_URL: d.baseUrl, PLANE_WORKSPACE_SLUG: d.slug,
    },
    stderr: "ignore",
  });
  const c2 = new Client({ name: "planebridge-mcp-test-bad", version: "1.0.0" });
  await c2.connect(bad);
  try {
    const r = await c2.callTool({ name: "get_projects", arguments: {} });
    assert.ok(r.isError);
    assert.match(r.content[0].text, /status code 403/);
  } finally {
    await c2.close();
  }
});
