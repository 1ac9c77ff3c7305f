-- grantkit-store-postgres, schema 1: one row per (provider, client, subject).
-- Idempotent: PostgresTokenStores::migrate() runs it under an advisory lock at every start.
CREATE TABLE IF NOT EXISTS grantkit_tokens (
    provider   text        NOT NULL,
    client_id  text        NOT NULL,
    subject    text        NOT NULL,
    -- The TokenSet JSON, or the sealed envelope (0x01, key id, nonce, AES-256-GCM ciphertext).
    tokens     bytea       NOT NULL,
    -- The id of the key the value is sealed with; NULL when it is stored in clear.
    key_id     smallint,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, client_id, subject)
);
COMMENT ON TABLE grantkit_tokens IS 'OAuth tokens of grantkit TokenSources (grantkit-store-postgres schema 1). Secrets: protect, or seal with SealingKeys.';
