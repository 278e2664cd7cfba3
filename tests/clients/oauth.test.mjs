// planebridge's OAuth2 client (Plane apps, reference/plane-api.md §1.2) against a real
// authorization server: `oidc-provider` from npm (pinned in package.json), started here on
// a free 127.0.0.1 port with PKCE required and client_credentials enabled.
//   - authorization code + PKCE S256 + single-use state: a workspace admin starts it through
//     the authenticated POST /admin/v1/oauth/apps/{app}/workspaces/{slug}/authorize (JSON
//     {"authorize_url"}), the browser comes back to the public /oauth/{app}/callback;
//   - initiation refused without a key, to non-admins and to admins of other workspaces; the
//     old public GET /oauth/{app}/authorize is gone; a forged, replayed or expired state, or
//     one whose initiator lost the admin role, is refused without touching the stored token;
//   - client_credentials bot tokens per installation (HTTP Basic, as Plane), cached, and
//     fetched again before they expire;
//   - user token refresh before expiry (refresh_token grant, client_secret_post);
//   - no token or client secret in any answer, the daemon log, or the database file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import Provider from "oidc-provider";
import { startDaemon, api, freePort } from "./lib/daemon.mjs";

const SECRET_BASIC = "basic-client-secret-" + Math.random().toString(36).slice(2) + "x".repeat(16);
const SECRET_POST = "post-client-secret-" + Math.random().toString(36).slice(2) + "y".repeat(16);
const issued = []; // every token the provider handed out: { grant, access, refresh, client }
let d, provider, server, issuer;

before(async () => {
  d = await startDaemon({ env: { PB_LOG_LEVEL: "debug" } });
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const shortLived = (client) => client && client.clientId === "pb-post";
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: "pb-basic",
        client_secret: SECRET_BASIC,
        grant_types: ["authorization_code", "refresh_token", "client_credentials"],
        response_types: ["code"],
        redirect_uris: [`${d.baseUrl}/oauth/basicapp/callback`],
        token_endpoint_auth_method: "client_secret_basic",
      },
      {
        client_id: "pb-post",
        client_secret: SECRET_POST,
        grant_types: ["authorization_code", "refresh_token", "client_credentials"],
        response_types: ["code"],
        redirect_uris: [`${d.baseUrl}/oauth/postapp/callback`],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed("refresh_token"),
    ttl: {
      // 30 s is inside planebridge's refresh margin (60 s): it must fetch a new token each time
      AccessToken: (ctx, token, client) => (shortLived(client) ? 30 : 3600),
      ClientCredentials: (ctx, token, client) => (shortLived(client) ? 30 : 3600),
    },
    scopes: ["openid"],
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    cookies: { keys: ["planebridge-test-cookie-key"] },
  });
  provider.on("grant.success", (ctx) => {
    const b = ctx.body || {};
    issued.push({ grant: ctx.oidc.params.grant_type, access: b.access_token, refresh: b.refresh_token, client: ctx.oidc.client?.clientId });
  });
  const cb = provider.callback();
  server = http.createServer(async (req, res) => {
    if (req.url.startsWith("/interaction/")) {
      // The "user" approves at once: login + consent for the requested scopes.
      try {
        const details = await provider.interactionDetails(req, res);
        const grant = new provider.Grant({ accountId: "ada", clientId: details.params.client_id });
        grant.addOIDCScope(details.params.scope);
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { login: { accountId: "ada" }, consent: { grantId } },
          { mergeWithLastSubmission: false });
      } catch (e) {
        res.statusCode = 500;
        res.end(String(e));
      }
      return;
    }
    cb(req, res);
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
});

after(async () => {
  if (server) await new Promise((r) => server.close(r));
  if (d) await d.stop();
});

async function registerApp(name, clientId, secret, authMethod) {
  const r = await api(d, "POST", "/admin/v1/oauth/apps", {
    body: {
      name, client_id: clientId, client_secret: secret, auth_method: authMethod,
      authorize_url: `${issuer}/auth`, token_url: `${issuer}/token`,
      redirect_uri: `${d.baseUrl}/oauth/${name}/callback`, scope: "openid",
    },
  });
  assert.equal(r.status, 201, r.text);
  assert.ok(!r.text.includes(secret), "the client secret is never echoed");
  return r;
}

// SQL against the daemon's store (SQLite file or PostgreSQL database); returns stdout.
function sql(q) {
  const r = d.storeUrl.startsWith("sqlite:")
    ? spawnSync("sqlite3", [d.storeUrl.slice(7), q.replaceAll("ops.", "ops_")], { encoding: "utf8" })
    : spawnSync("psql", [d.storeUrl, "-At", "-v", "ON_ERROR_STOP=1", "-c", q], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}
const sealedToken = (name) => sql(`SELECT sealed FROM ops.vault WHERE name = 'oauth/${name}/user/${d.slug}'`);

// Starts an authorization as a workspace admin (the daemon answers the URL as JSON).
async function startAuthorization(name, key) {
  const r = await api(d, "POST", `/admin/v1/oauth/apps/${name}/workspaces/${d.slug}/authorize`, { key });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get("cache-control"), "no-store");
  assert.equal(r.json.workspace, d.slug);
  return new URL(r.json.authorize_url);
}

// Drives the browser part: planebridge authorize -> provider (login/consent) -> callback URL.
async function authorize(name, key) {
  const loc = await startAuthorization(name, key);
  assert.equal(loc.origin + loc.pathname, `${issuer}/auth`);
  assert.equal(loc.searchParams.get("code_challenge_method"), "S256");
  assert.match(loc.searchParams.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
  assert.match(loc.searchParams.get("state"), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(loc.searchParams.get("response_type"), "code");
  const jar = new Map();
  let url = loc.toString();
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(d.baseUrl)) return new URL(url);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const r = await fetch(url, { redirect: "manual", headers: cookie ? { cookie } : {} });
    for (const c of r.headers.getSetCookie()) {
      const [kv] = c.split(";");
      const i = kv.indexOf("=");
      jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
    const next = r.headers.get("location");
    assert.ok(next, `provider stopped at ${url} with ${r.status}: ${await r.text()}`);
    url = new URL(next, url).toString();
  }
  throw new Error("too many redirects");
}

test("authorization code with PKCE and single-use state; bot token on install", async () => {
  await registerApp("basicapp", "pb-basic", SECRET_BASIC, "plane");
  const cbUrl = await authorize("basicapp");
  assert.ok(cbUrl.searchParams.get("code"));
  // Plane adds app_installation_id on the redirect; planebridge then fetches a bot token.
  cbUrl.searchParams.set("app_installation_id", "inst-77");
  const r = await fetch(cbUrl, { redirect: "manual" });
  const body = await r.text();
  assert.equal(r.status, 200, body);
  assert.deepEqual(JSON.parse(body), { installed: true, workspace: d.slug });
  assert.equal(issued.filter((t) => t.client === "pb-basic" && t.grant === "authorization_code").length, 1);
  assert.equal(issued.filter((t) => t.client === "pb-basic" && t.grant === "client_credentials").length, 1);

  // the same state again: refused (single use), and nothing new issued
  const again = await fetch(cbUrl, { redirect: "manual" });
  assert.equal(again.status, 400);
  const forged = new URL(cbUrl);
  forged.searchParams.set("state", "A".repeat(43));
  assert.equal((await fetch(forged, { redirect: "manual" })).status, 400);
  assert.equal(issued.filter((t) => t.client === "pb-basic" && t.grant === "authorization_code").length, 1);

  const names = d.cli(["vault", "list"]).stdout.split("\n");
  for (const n of ["oauth/app/basicapp", `oauth/basicapp/user/${d.slug}`, "oauth/basicapp/bot/inst-77"])
    assert.ok(names.includes(n), `vault holds ${n}: ${names}`);

  // a long-lived bot token is reused, not fetched again
  const b = await api(d, "POST", "/admin/v1/oauth/apps/basicapp/installations/inst-77/token");
  assert.equal(b.status, 200, b.text);
  assert.equal(b.json.vault_name, "oauth/basicapp/bot/inst-77");
  assert.ok(b.json.expires_at);
  assert.equal(issued.filter((t) => t.client === "pb-basic" && t.grant === "client_credentials").length, 1);
  const u = await api(d, "POST", `/admin/v1/oauth/apps/basicapp/workspaces/${d.slug}/token`);
  assert.equal(u.status, 200, u.text);
  assert.equal(issued.filter((t) => t.client === "pb-basic" && t.grant === "refresh_token").length, 0);
});

test("tokens are refreshed before they expire (client_secret_post)", async () => {
  await registerApp("postapp", "pb-post", SECRET_POST, "post");
  const cbUrl = await authorize("postapp");
  const r = await fetch(cbUrl, { redirect: "manual" });
  assert.equal(r.status, 200, await r.text());
  // 30 s tokens are inside the refresh margin: each request refreshes
  const u1 = await api(d, "POST", `/admin/v1/oauth/apps/postapp/workspaces/${d.slug}/token`);
  assert.equal(u1.status, 200, u1.text);
  assert.equal(issued.filter((t) => t.client === "pb-post" && t.grant === "refresh_token").length, 1);
  const b1 = await api(d, "POST", "/admin/v1/oauth/apps/postapp/installations/inst-9/token");
  const b2 = await api(d, "POST", "/admin/v1/oauth/apps/postapp/installations/inst-9/token");
  assert.equal(b1.status, 200, b1.text);
  assert.equal(b2.status, 200, b2.text);
  assert.equal(issued.filter((t) => t.client === "pb-post" && t.grant === "client_credentials").length, 2);
  // unknown app / installation without a registered app
  assert.equal((await api(d, "POST", "/admin/v1/oauth/apps/nope/installations/x/token")).status, 404);
  assert.equal((await api(d, "POST", `/admin/v1/oauth/apps/nope/workspaces/${d.slug}/authorize`)).status, 404);
  // admin routes need keys:admin
  assert.equal((await api(d, "POST", "/admin/v1/oauth/apps", { key: null, body: {} })).status, 401);
});

test("initiation needs a workspace admin; bad states never touch the stored token", async () => {
  // the old public initiation is gone, whoever asks
  const pub = await fetch(`${d.baseUrl}/oauth/basicapp/authorize?workspace=${d.slug}`, { redirect: "manual" });
  assert.ok(pub.status === 404 || pub.status === 405, `public authorize answered ${pub.status}`);
  assert.equal(pub.headers.get("location"), null);
  const path = `/admin/v1/oauth/apps/basicapp/workspaces/${d.slug}/authorize`;
  assert.equal((await api(d, "POST", path, { key: null })).status, 401);
  const member = await d.createUser("member@example.com", ["--role", "member"]);
  assert.equal((await api(d, "POST", path, { key: member.apiKey })).status, 403);
  assert.equal((await api(d, "POST", "/admin/v1/oauth/basicapp/authorize", { key: member.apiKey, body: { workspace: d.slug } })).status, 403);
  // an admin of another workspace (and only a member here)
  assert.equal(d.cli(["workspace", "create", "elsewhere"]).code, 0);
  const outsider = d.cli(["user", "create", "--email", "out@example.com", "--workspace", "elsewhere", "--role", "admin"]).stdout.trim();
  assert.equal(d.cli(["user", "create", "--email", "out@example.com", "--workspace", d.slug, "--role", "member"]).code, 0);
  const o = await api(d, "POST", path, { key: outsider });
  assert.equal(o.status, 403, o.text);
  assert.ok(!o.text.includes("authorize_url"));

  const before = sealedToken("basicapp");
  assert.ok(before, "a user token is stored from the first test");
  const codes = () => issued.filter((t) => t.client === "pb-basic" && t.grant === "authorization_code").length;
  const n0 = codes();
  const cb = (state) => fetch(`${d.baseUrl}/oauth/basicapp/callback?code=whatever&state=${state}`, { redirect: "manual" });
  // forged
  assert.equal((await cb("A".repeat(43))).status, 400);
  // expired: a real state whose expiry has passed
  const exp = (await startAuthorization("basicapp")).searchParams.get("state");
  sql("UPDATE ops.oauth_states SET expires_at = 1");
  assert.equal((await cb(exp)).status, 400);
  assert.equal((await cb(exp)).status, 400); // and it is gone
  // a complete authorization by a second admin who is demoted before the callback
  const ada2 = await d.createUser("ada2@example.com", ["--role", "admin"]);
  const cbUrl = await authorize("basicapp", ada2.apiKey);
  d.cli(["user", "create", "--email", "ada2@example.com", "--workspace", d.slug, "--role", "member"]);
  const demoted = await fetch(cbUrl, { redirect: "manual" });
  assert.equal(demoted.status, 403, await demoted.text());
  // replayed (the state was used by the refused attempt)
  assert.equal((await fetch(cbUrl, { redirect: "manual" })).status, 400);
  assert.equal(codes(), n0, "no code was exchanged");
  assert.equal(sealedToken("basicapp"), before, "the stored user token was not rewritten");
});

test("no token or client secret in the log or the database file", async () => {
  const secrets = [SECRET_BASIC, SECRET_POST];
  for (const t of issued) {
    if (t.access) secrets.push(t.access);
    if (t.refresh) secrets.push(t.refresh);
  }
  assert.ok(secrets.length >= 8, `tokens captured: ${secrets.length}`);
  const log = d.log() + d.output();
  assert.ok(log.length > 0);
  const files = [];
  if (d.storeUrl.startsWith("sqlite:")) {
    const f = d.storeUrl.slice(7);
    for (const p of [f, f + "-wal"]) if (fs.existsSync(p)) files.push(fs.readFileSync(p).toString("latin1"));
  }
  for (const s of secrets) {
    assert.ok(!log.includes(s), "secret in the daemon log");
    for (const f of files) assert.ok(!f.includes(s), "secret in plaintext in the database file");
  }
});
