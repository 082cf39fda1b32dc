-- Staff accounts, their sign-in sessions (refresh-token families), and integration API keys.
-- Secrets are never stored: passwords as argon2id PHC strings, tokens and keys as SHA-256.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    -- lower-cased, so sign-in and uniqueness ignore case
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    version       BIGINT NOT NULL DEFAULT 1,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

-- One row per sign-in. Its refresh tokens form a family: reusing a spent one revokes it all.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id),
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    revoked_at     TIMESTAMP,
    revoked_reason TEXT CHECK (revoked_reason IN ('logout', 'refresh_reuse', 'deactivated',
                       'password_changed', 'password_reset'))
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    issued_at  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    -- set when the token is exchanged; a second exchange is a reuse
    spent_at   TIMESTAMP
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    -- the non-secret start of the key, shown in lists so staff can tell keys apart
    prefix       TEXT NOT NULL UNIQUE,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    revoked_at   TIMESTAMP,
    last_used_at TIMESTAMP
);

CREATE TABLE api_key_scopes (
    api_key_id TEXT NOT NULL REFERENCES api_keys (id),
    scope      TEXT NOT NULL CHECK (scope IN ('organisations:read', 'contacts:read',
                   'groups:read', 'consultations:read', 'reports:read')),
    PRIMARY KEY (api_key_id, scope)
);
