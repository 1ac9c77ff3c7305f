-- grantkit-store-postgres, schema 2: one-time ids (back-channel logout tokens' jti) seen, per
-- scope (the issuer), until they expire. Idempotent, like schema 1.
CREATE TABLE IF NOT EXISTS grantkit_seen (
    scope      text        NOT NULL,
    id         text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, id)
);
