// Load generator for tests/integration/ingest.sh: Plane CE webhooks, byte-for-byte in
// Plane's format (plane-api.md §6.2: Python json.dumps separators ", " / ": ", keys in
// Plane's order, lowercase hex HMAC-SHA256 of the raw body in X-Plane-Signature, a fresh
// X-Plane-Delivery uuid per attempt).
//
//   node ingest_load.js send URL SECRET PREFIX N CONC ACKFILE
//       sends N distinct "issue created" webhooks (object ids derived from PREFIX and the
//       index) with CONC in flight; appends the object id of every 200 answer to ACKFILE
//       (synchronously, as it arrives); stops at the first connection error (daemon killed).
//       Prints "sent S ok O dup D err E".
//   node ingest_load.js resend URL SECRET ACKFILE
//       re-sends the exact body of every acknowledged id (a Plane retry); prints
//       "resent R dup D other O".
//   node ingest_load.js patch URL SECRET ID FIELDS...
//       one PATCH of several fields: one delivery per field, same data (Plane's behaviour).
"use strict";
const http = require("http");
const crypto = require("crypto");
const fs = require("fs");

const WS_ID = "9c8d5e5a-9a55-4c8a-a3a4-6f1f7c1d0b11";
const PROJECT = "4a7b7f0e-2a8e-4f7e-8d0c-1f6f1b0a2c33";
const USER = "0b2e3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d";

// Python json.dumps(ensure_ascii=True) with default separators.
function pyDumps(v) {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return Number.isInteger(v) && !v.__float ? String(v) : String(v);
  if (typeof v === "string")
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  if (Array.isArray(v)) return "[" + v.map(pyDumps).join(", ") + "]";
  if (v.__raw !== undefined) return v.__raw;
  return "{" + Object.keys(v).map((k) => pyDumps(k) + ": " + pyDumps(v[k])).join(", ") + "}";
}

function idFor(prefix, i) {
  const h = crypto.createHash("sha256").update(prefix + ":" + i).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function iso(us) {
  const d = new Date(Math.floor(us / 1000));
  return d.toISOString().replace(/\.\d{3}Z$/, "." + String(us % 1000000).padStart(6, "0") + "Z");
}

function issueBody(id, action, opts) {
  opts = opts || {};
  const updated = opts.updatedUs || 1763800000000000;
  const data = {
    id,
    name: opts.name || "Webhook load " + id.slice(0, 8),
    description_html: "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(opts.pad || 20) + "</p>",
    description_json: { type: "doc" },
    description_stripped: "Lorem ipsum",
    description: { type: "doc" },
    description_binary: null,
    priority: opts.priority || "none",
    state: { id: "5b1f8e3c-7d2a-4e6b-9c0d-1a2b3c4d5e60", name: "Todo", color: "#3f76ff", group: "unstarted" },
    parent: null,
    estimate_point: null,
    start_date: null,
    target_date: null,
    sequence_id: 7,
    sort_order: { __raw: "65535.0" },
    completed_at: null,
    archived_at: null,
    is_draft: false,
    external_source: null,
    external_id: null,
    labels: [],
    assignees: [],
    project: PROJECT,
    workspace: WS_ID,
    created_at: "2025-11-21T10:00:00.000000Z",
    updated_at: iso(updated),
    deleted_at: null,
    created_by: USER,
    updated_by: USER,
  };
  return pyDumps({
    event: "issue",
    action,
    webhook_id: "3e6f0c1a-0d5b-4b8e-9f2a-6c7d8e9f0a1b",
    workspace_id: WS_ID,
    data,
    activity: {
      field: opts.field || null,
      new_value: null,
      old_value: null,
      actor: { id: USER, first_name: "Ada", last_name: "L", email: "ada@example.com", avatar: "", avatar_url: null, display_name: "ada" },
      old_identifier: null,
      new_identifier: null,
    },
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(url, secret, body) {
  return new Promise((resolve) => {
    const sig = crypto.createHmac("sha256", secret).update(body).digest("hex");
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "Content-Type": "application/json",
          "User-Agent": "Autopilot",
          "X-Plane-Delivery": crypto.randomUUID(),
          "X-Plane-Event": "issue",
          "X-Plane-Signature": sig,
          "Content-Length": Buffer.byteLength(body),
        },
        timeout: 30000,
      },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode, text }));
      }
    );
    req.on("error", (e) => resolve({ status: 0, text: String(e) }));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

async function send(url, secret, prefix, n, conc, ackfile) {
  const fd = fs.openSync(ackfile, "a");
  let next = 0, ok = 0, dup = 0, err = 0, sent = 0, stop = false;
  async function lane() {
    while (!stop && next < n) {
      const i = next++;
      const id = idFor(prefix, i);
      const r = await post(url, secret, issueBody(id, "created"));
      sent++;
      if (r.status === 200) {
        fs.writeSync(fd, id + "\n");
        if (r.text.includes('"duplicate":true')) dup++;
        else ok++;
      } else {
        err++;
        if (r.status === 0) stop = true; // the daemon is gone
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, lane));
  fs.closeSync(fd);
  console.log(`sent ${sent} ok ${ok} dup ${dup} err ${err}`);
}

async function resend(url, secret, ackfile) {
  const ids = fs.readFileSync(ackfile, "utf8").split("\n").filter(Boolean);
  let dup = 0, other = 0, i = 0;
  async function lane() {
    while (i < ids.length) {
      const id = ids[i++];
      const r = await post(url, secret, issueBody(id, "created"));
      if (r.status === 200 && r.text.includes('"duplicate":true')) dup++;
      else other++;
    }
  }
  await Promise.all(Array.from({ length: 16 }, lane));
  console.log(`resent ${ids.length} dup ${dup} other ${other}`);
}

async function patch(url, secret, id, fields) {
  const codes = [];
  for (const f of fields) {
    const r = await post(url, secret, issueBody(id, "updated", { updatedUs: 1763800000500000, name: "Patched", priority: "high", field: f }));
    codes.push(r.status);
  }
  console.log(codes.join(" "));
}

module.exports = { issueBody, idFor, pyDumps };

if (require.main === module) {
  const [mode, url, secret, ...rest] = process.argv.slice(2);
  let p;
  if (mode === "send") p = send(url, secret, rest[0], +rest[1], +rest[2], rest[3]);
  else if (mode === "resend") p = resend(url, secret, rest[0]);
  else if (mode === "patch") p = patch(url, secret, rest[0], rest.slice(1));
  else {
    console.error("usage: see the header of ingest_load.js");
    process.exit(2);
  }
  p.then(() => agent.destroy());
}
