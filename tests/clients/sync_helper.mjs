// sync_helper.mjs: creates and changes data in a standalone planebridge (the "upstream" of the
// sync tests) through its Plane-compatible API, exactly as a Plane client would.
//
//   node sync_helper.mjs BASE_URL SLUG KEY seed N        -> prints {"project":..., "issues":[...]}
//   node sync_helper.mjs BASE_URL SLUG KEY change N      -> updates N work items (name, priority)
//   node sync_helper.mjs BASE_URL SLUG KEY delete-issue   -> deletes the newest work item, prints its id
//   node sync_helper.mjs BASE_URL SLUG KEY delete-comment -> deletes one comment, prints its id
//   node sync_helper.mjs BASE_URL SLUG KEY bulk N         -> N bare work items (fast seeding)
const [base, slug, key, cmd, nArg] = process.argv.slice(2);
const N = Number(nArg || 0);
const ws = `${base}/api/v1/workspaces/${slug}`;

async function call(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(ws + path, {
      method,
      headers: { "X-Api-Key": key, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status === 429 && attempt < 20) {
      await new Promise((res) => setTimeout(res, 1000));
      continue;
    }
    if (r.status >= 400) throw new Error(`${method} ${path} -> ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

async function firstProject() {
  const p = await call("GET", "/projects/?per_page=100");
  return p.results[0];
}

async function allIssues(pid) {
  const out = [];
  for (let page = 0; ; page++) {
    const r = await call("GET", `/projects/${pid}/work-items/?per_page=100&cursor=100:${page}:0`);
    out.push(...r.results);
    if (!r.next_page_results) break;
  }
  return out;
}

async function seed(n) {
  const me = await call("GET", "/members/");
  const uid = me[0].id;
  const suffix = Math.random().toString(36).slice(2, 6).toUpperCase();
  const project = await call("POST", "/projects/", {
    name: `Sync ${suffix}`, identifier: `S${suffix}`.slice(0, 5), cycle_view: true, module_view: true, intake_view: true,
  });
  const pid = project.id;
  try { await call("PATCH", `/projects/${pid}/`, { cycle_view: true, module_view: true, intake_view: true }); } catch { /* optional */ }
  const states = (await call("GET", `/projects/${pid}/states/`)).results;
  const started = states.find((s) => s.group === "started");
  const labels = [];
  for (const name of ["bug", "feature"]) labels.push(await call("POST", `/projects/${pid}/labels/`, { name, color: "#ff0000" }));
  const issues = [];
  for (let i = 0; i < n; i++) {
    const body = { name: `Item ${i}`, priority: ["low", "medium", "high"][i % 3] };
    if (i % 2 === 0) body.assignees = [uid];
    if (i % 3 === 0) body.labels = [labels[i % 2].id];
    if (i % 4 === 1 && started) body.state = started.id;
    issues.push(await call("POST", `/projects/${pid}/work-items/`, body));
  }
  for (let i = 0; i < Math.min(n, 5); i++) {
    await call("POST", `/projects/${pid}/work-items/${issues[i].id}/comments/`, { comment_html: `<p>comment ${i}</p>` });
    await call("POST", `/projects/${pid}/work-items/${issues[i].id}/links/`, { url: `https://example.com/${i}`, title: `link ${i}` });
  }
  if (n >= 2) await call("POST", `/projects/${pid}/work-items/${issues[0].id}/relations/`, { relation_type: "blocking", issues: [issues[1].id] });
  let cycle = null, mod = null;
  try {
    cycle = await call("POST", `/projects/${pid}/cycles/`, { name: "Cycle 1", start_date: "2026-11-01", end_date: "2026-12-01", owned_by: uid });
    await call("POST", `/projects/${pid}/cycles/${cycle.id}/cycle-issues/`, { issues: issues.slice(0, Math.min(n, 3)).map((x) => x.id) });
  } catch (e) { console.error(`cycle: ${e.message}`); }
  try {
    mod = await call("POST", `/projects/${pid}/modules/`, { name: "Module 1" });
    await call("POST", `/projects/${pid}/modules/${mod.id}/module-issues/`, { issues: issues.slice(0, Math.min(n, 2)).map((x) => x.id) });
  } catch (e) { console.error(`module: ${e.message}`); }
  try { await call("POST", `/projects/${pid}/intake-issues/`, { issue: { name: "From intake" } }); } catch (e) { console.error(`intake: ${e.message}`); }
  console.log(JSON.stringify({ project: pid, issues: issues.map((x) => x.id), cycle: cycle && cycle.id, module: mod && mod.id }));
}

async function bulk(n) {
  const suffix = Math.random().toString(36).slice(2, 6).toUpperCase();
  const project = await call("POST", "/projects/", { name: `Bulk ${suffix}`, identifier: `B${suffix}`.slice(0, 5) });
  const pid = project.id;
  const conc = 16;
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) {
      const i = next++;
      await call("POST", `/projects/${pid}/work-items/`, { name: `Bulk ${i}` });
    }
  }));
  console.log(JSON.stringify({ project: pid }));
}

async function change(n) {
  const p = await firstProject();
  const issues = await allIssues(p.id);
  for (let i = 0; i < Math.min(n, issues.length); i++) {
    await call("PATCH", `/projects/${p.id}/work-items/${issues[i].id}/`, { name: `${issues[i].name} changed ${Date.now()}`, priority: "urgent" });
  }
  console.log(JSON.stringify({ changed: Math.min(n, issues.length) }));
}

async function deleteIssue() {
  const p = await firstProject();
  const issues = await allIssues(p.id);
  const victim = issues[issues.length - 1];
  await call("DELETE", `/projects/${p.id}/work-items/${victim.id}/`);
  console.log(victim.id);
}

async function deleteComment() {
  const p = await firstProject();
  const issues = await allIssues(p.id);
  for (const it of issues) {
    const c = await call("GET", `/projects/${p.id}/work-items/${it.id}/comments/`);
    const rows = Array.isArray(c) ? c : c.results;
    if (rows.length) {
      await call("DELETE", `/projects/${p.id}/work-items/${it.id}/comments/${rows[0].id}/`);
      console.log(rows[0].id);
      return;
    }
  }
  throw new Error("no comment to delete");
}

const cmds = { seed: () => seed(N), bulk: () => bulk(N), change: () => change(N), "delete-issue": deleteIssue, "delete-comment": deleteComment };
if (!cmds[cmd]) {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
cmds[cmd]().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
