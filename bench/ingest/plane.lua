-- wrk script: signed ~3 KB Plane CE webhooks (plane-api.md §6.2 format), every request a
-- DISTINCT body (unique data.id and updated_at) with a real X-Plane-Signature: hex
-- HMAC-SHA256 computed per request through LuaJIT FFI into the libcrypto wrk itself links.
-- So nothing is a duplicate and every accepted request is a new durable row.
-- Usage: wrk ... -s plane.lua URL -- SECRET NONCE
local ffi = require("ffi")
ffi.cdef [[
unsigned char *HMAC(const void *evp_md, const void *key, int key_len, const unsigned char *d, size_t n,
                    unsigned char *md, unsigned int *md_len);
const void *EVP_sha256(void);
]]
local C = ffi.C
local md = ffi.new("unsigned char[32]")
local mdlen = ffi.new("unsigned int[1]")
local hexd = {}
for i = 0, 255 do hexd[i] = string.format("%02x", i) end

local secret, nonce = "plane_wh_0123456789abcdef0123456789abcdef", "0"
local counter = 0
local tid = 0
local threads = {}

function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
  table.insert(threads, thread)
end

local pad = string.rep("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 38)
local head = '{"event": "issue", "action": "created", "webhook_id": "3e6f0c1a-0d5b-4b8e-9f2a-6c7d8e9f0a1b", '
  .. '"workspace_id": "9c8d5e5a-9a55-4c8a-a3a4-6f1f7c1d0b11", "data": {"id": "'
local mid1 = '", "name": "Bench webhook", "description_html": "<p>' .. pad .. '</p>", '
  .. '"description_json": {"type": "doc"}, "description_stripped": "Lorem", "description": {"type": "doc"}, '
  .. '"description_binary": null, "priority": "none", "state": {"id": "5b1f8e3c-7d2a-4e6b-9c0d-1a2b3c4d5e60", '
  .. '"name": "Todo", "color": "#3f76ff", "group": "unstarted"}, "parent": null, "estimate_point": null, '
  .. '"start_date": null, "target_date": null, "sequence_id": 7, "sort_order": 65535.0, "completed_at": null, '
  .. '"archived_at": null, "is_draft": false, "external_source": null, "external_id": null, "labels": [], '
  .. '"assignees": [], "project": "4a7b7f0e-2a8e-4f7e-8d0c-1f6f1b0a2c33", '
  .. '"workspace": "9c8d5e5a-9a55-4c8a-a3a4-6f1f7c1d0b11", "created_at": "2025-11-21T10:00:00.000000Z", '
  .. '"updated_at": "2025-11-21T10:'
local tail = 'Z", "deleted_at": null, "created_by": "0b2e3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d", '
  .. '"updated_by": "0b2e3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d"}, "activity": {"field": null, "new_value": null, '
  .. '"old_value": null, "actor": {"id": "0b2e3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d", "first_name": "Ada", '
  .. '"last_name": "L", "email": "ada@example.com", "avatar": "", "avatar_url": null, "display_name": "ada"}, '
  .. '"old_identifier": null, "new_identifier": null}}'

function init(args)
  if args[1] then secret = args[1] end
  if args[2] then nonce = args[2] end
  wrk.method = "POST"
end

function request()
  counter = counter + 1
  -- a v4-shaped UUID unique per (nonce, thread, counter)
  local id = string.format("%08x-%04x-4%03x-8%03x-%012x", tonumber(nonce) % 4294967296, tid % 65536,
    math.floor(counter / 4096) % 4096, counter % 4096, counter)
  local ts = string.format("%02d:%02d.%06d", math.floor(counter / 60000000) % 60, math.floor(counter / 1000000) % 60,
    counter % 1000000)
  local body = head .. id .. mid1 .. ts .. tail
  C.HMAC(C.EVP_sha256(), secret, #secret, body, #body, md, mdlen)
  local h = {}
  for i = 0, 31 do h[i + 1] = hexd[md[i]] end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "Autopilot",
    ["X-Plane-Event"] = "issue",
    ["X-Plane-Delivery"] = id,
    ["X-Plane-Signature"] = table.concat(h),
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx_or_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
