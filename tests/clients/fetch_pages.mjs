// fetch_pages.mjs: the bench peer of bench/sync/run.sh: GETs the same work-item pages a sync
// backfill walks (per_page=100, order_by=-updated_at), CONC at a time over keep-alive
// connections, and throws the bodies away after reading them. Prints the seconds taken.
//   node fetch_pages.mjs BASE_URL SLUG PROJECT KEY PAGES [CONC]
const [base, slug, project, key, pagesArg, concArg] = process.argv.slice(2);
const pages = Number(pagesArg);
const conc = Number(concArg || 8);
let next = 0;
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: conc }, async () => {
  while (next < pages) {
    const p = next++;
    const r = await fetch(`${base}/api/v1/workspaces/${slug}/projects/${project}/work-items/?order_by=-updated_at&per_page=100&cursor=100:${p}:0`, { headers: { "X-Api-Key": key } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`page ${p}: ${r.status}`);
  }
}));
console.log((Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3));
