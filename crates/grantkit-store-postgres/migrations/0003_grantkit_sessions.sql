-- grantkit-store-postgres, schema 3: grantkit-axum's server-side sessions (PostgresSessionStore,
-- feature `axum-sessions`), one row per session, keyed by the digest of the cookie value (never
-- the cookie itself). `sid` and `subject` index the row for back-channel logout; `expires_at` is
-- the earlier of the idle and the absolute end, and every read filters on it. Idempotent, like
-- schemas 1 and 2: a database at schema 2 upgrades by running migrate() again.
CREATE TABLE IF NOT EXISTS grantkit_sessions (
    key        text        NOT NULL PRIMARY KEY,
    -- The session as JSON: the user's claims, a login in progress (its PKCE verifier and
    -- nonce), never tokens.
    session    text        NOT NULL,
    subject    text,
    sid        text,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS grantkit_sessions_sid ON grantkit_sessions (sid) WHERE sid IS NOT NULL;
CREATE INDEX IF NOT EXISTS grantkit_sessions_subject ON grantkit_sessions (subject) WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS grantkit_sessions_expires_at ON grantkit_sessions (expires_at);
COMMENT ON TABLE grantkit_sessions IS 'grantkit-axum sessions (grantkit-store-postgres schema 3). Holds PKCE verifiers of logins in progress: protect.';
