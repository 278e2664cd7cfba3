-- 0010_oauth_state_user (security review): an OAuth authorization state is bound to the
-- user who started it (an admin of the workspace, through the authenticated admin API).
-- States created before this migration came from the old public /oauth/{app}/authorize
-- route, which anyone could call: they are dropped, so none of them can complete.
DELETE FROM ops.oauth_states;
ALTER TABLE ops.oauth_states ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
