/* oauth: the OAuth2 client for Plane apps (reference/plane-api.md §1.2), usable with any
 * OAuth2 server because every endpoint is configured per app.
 *
 *   - authorization code with a single-use, expiring `state` (stored hashed, 10 minutes)
 *     and PKCE S256 (the code_verifier never leaves planebridge before the exchange); the
 *     state is bound to the workspace AND the admin who started it through the authenticated
 *     admin API (never a public route: the callback stores whichever account authorizes as
 *     the workspace's user token);
 *   - the callback exchanges the code (libcurl) and stores the user token and its refresh
 *     token in the vault; if Plane passed app_installation_id, a bot token is fetched too;
 *   - client_credentials bot tokens per app installation (Plane: HTTP Basic + the
 *     app_installation_id form field);
 *   - tokens are refreshed before they expire (within max(60 s, 10% of their lifetime));
 *   - tokens and client secrets live only in the vault (JSON under "oauth/..." names);
 *     work_plane.tokens_ref maps workspace + purpose ("oauth_user:APP", "oauth_bot:APP") to
 *     them; every secret is registered with the log redactor; no token ever appears in an
 *     error message, a log line or an HTTP answer.
 * Client authentication at the token endpoint (auth_method): "plane" (default: Basic for
 * client_credentials, client_id/client_secret in the form for the other grants, as Plane
 * documents), "basic" (always Basic) or "post" (always in the form). */
#ifndef PB_AUTH_OAUTH_H
#define PB_AUTH_OAUTH_H

#include "auth/vault.h"
#include "core/err.h"
#include "store/db.h"

#include <stdint.h>

typedef struct pb_oauth_app {
    char name[64];            /* [A-Za-z0-9_-] */
    char client_id[256];
    char client_secret[256];
    char authorize_url[512];  /* Plane: {base}/auth/o/authorize-app/ */
    char token_url[512];      /* Plane: {base}/auth/o/token/ */
    char redirect_uri[512];   /* planebridge's {public_url}/oauth/{name}/callback */
    char scope[512];          /* space-separated; "" = none sent */
    char auth_method[16];     /* "plane" | "basic" | "post" */
} pb_oauth_app;

typedef struct pb_oauth_token {
    char access_token[2048];
    char refresh_token[2048];
    char scope[512];
    int64_t expires_at; /* us; 0 = unknown/never */
    int64_t issued_at;  /* us */
} pb_oauth_token;

/* Validates and stores the app (client secret included) in the vault as "oauth/app/NAME". */
int pb_oauth_app_save(pb_vault *v, const pb_oauth_app *app, pb_error *err);
int pb_oauth_app_load(pb_vault *v, const char *name, pb_oauth_app *out, pb_error *err);

/* Starts an authorization for workspace_slug on behalf of user_id (both required: the caller
 * has already checked, through the authenticated admin API, that user_id is an admin of the
 * workspace). A random state (only its SHA-256 is stored) is bound to the app, the
 * workspace, the user, the PKCE verifier and the redirect URI; it expires after 10 minutes
 * and works once. *url (malloc'd) is the authorization URL to hand to the user's browser;
 * *expires_at (optional) when the state expires. */
int pb_oauth_begin(pb_db *db, const pb_oauth_app *app, const char *workspace_slug, const char *user_id, char **url,
                   int64_t *expires_at, pb_error *err);

/* Completes it: checks and consumes the state (PB_ENOTFOUND unknown/used/other app,
 * PB_EEXPIRED) before anything else, so a forged, replayed or expired state never reaches
 * the token endpoint or the vault; PB_EAUTH when the state has no initiating user or
 * that user is no longer an admin of the workspace. Then exchanges the code with the
 * verifier, stores the user token for the state's workspace and, with an installation id, a
 * bot token. *workspace_out (optional, >= 128 bytes). */
int pb_oauth_callback(pb_db *db, pb_vault *v, const char *app_name, const char *state, const char *code,
                      const char *installation_id, char *workspace_out, pb_error *err);

/* A valid bot token for an installation (fetched or refreshed when needed). *token is
 * malloc'd (pb_vault_secret_free). workspace_slug (optional) records a tokens_ref. */
int pb_oauth_bot_token(pb_db *db, pb_vault *v, const char *app_name, const char *installation_id,
                       const char *workspace_slug, char **token, int64_t *expires_at, pb_error *err);
/* A valid user token for the workspace (refreshed with the refresh token when needed). */
int pb_oauth_user_token(pb_db *db, pb_vault *v, const char *app_name, const char *workspace_slug, char **token,
                        int64_t *expires_at, pb_error *err);

/* Vault names used for an app's tokens. */
void pb_oauth_bot_name(const char *app, const char *installation_id, char *out, size_t n);
void pb_oauth_user_name(const char *app, const char *workspace_slug, char *out, size_t n);

/* PKCE S256 challenge of a verifier (exposed for tests): base64url(SHA-256(verifier)). */
void pb_oauth_pkce_challenge(const char *verifier, char out[44]);

#endif
