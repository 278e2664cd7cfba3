// Writes SQL for the sqlite3 shell that inserts domain events into ops.outbox (the table
// the Plane API writes in the same transaction as each change).
//   node outbox_sql.mjs bulk N            N events in one transaction (throughput phase)
//   node outbox_sql.mjs paced RATE SECS   RATE events/s for SECS seconds, one transaction
//                                         every 10 ms; each payload's "timestamp" is taken
//                                         by SQLite at insert time, so the receiver measures
//                                         outbox commit -> receipt.
const [mode, a, b] = process.argv.slice(2);
const out = (s) => process.stdout.write(s);
let seq = 0;
function row(prefix) {
  seq++;
  const id = `${prefix}-${process.pid}-${seq}`;
  return `INSERT INTO ops_outbox (event_id, type, workspace_slug, project_id, object_id, occurred_at, payload) VALUES ('${id}', 'issue.updated', 'bench', 'p1', '${id}', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER), '{"type":"issue.updated","timestamp":"' || strftime('%Y-%m-%dT%H:%M:%fZ', 'now') || '","data":{"id":"${id}","name":"Benchmark item ${seq}","priority":"medium","sequence_id":${seq}},"previous_attributes":{"priority":"low"}}');\n`;
}
out('.timeout 10000\n');
if (mode === 'bulk') {
  const n = Number(a);
  out('BEGIN;\n');
  for (let i = 0; i < n; i++) out(row('bulk'));
  out('COMMIT;\n');
} else {
  const rate = Number(a), secs = Number(b);
  const perTick = Math.max(1, Math.round(rate / 100));
  const ticks = secs * 100;
  let t = 0;
  const timer = setInterval(() => {
    let s = 'BEGIN IMMEDIATE;\n';
    for (let i = 0; i < perTick; i++) s += row('paced');
    out(s + 'COMMIT;\n');
    if (++t >= ticks) {
      clearInterval(timer);
    }
  }, 10);
}
