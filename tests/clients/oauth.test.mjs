// planebridge's OAuth2 client (Plane apps, reference/plane-api.md §1.2) against a real
// authorization server: `oidc-provider` from npm (pinned in package.json), started here on
// a free 127.0.0.1 port with PKCE required and client_credentials enabled.
//   - authorization code + PKCE S256 + single-use state, through the daemon's
//     /oauth/{app}/authorize and /oauth/{app}/callback;
//   - client_credentials bot tokens per installation (HTTP Basic, as Plane), cached, and
//     fetched again before they expire;
//   - user token refresh before expiry (refresh_token grant, client_secret_post);
//   - no token or client secret in any answer, the daemon log, or the database file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
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

// Drives the browser part: planebridge authorize -> provider (login/consent) -> callback URL.
async function authorize(name) {
  const start = await fetch(`${d.baseUrl}/oauth/${name}/authorize?workspace=${d.slug}`, { redirect: "manual" });
  assert.equal(start.status, 302);
  const loc = new URL(start.headers.get("location"));
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
  assert.equal((await fetch(`${d.baseUrl}/oauth/nope/authorize`, { redirect: "manual" })).status, 404);
  // admin routes need keys:admin
  assert.equal((await api(d, "POST", "/admin/v1/oauth/apps", { key: null, body: {} })).status, 401);
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
