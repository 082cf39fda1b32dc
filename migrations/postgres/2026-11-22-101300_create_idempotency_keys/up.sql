-- Idempotency-Key on POST: the first answer to each caller's key, replayed when the request
-- is retried. `status` is null while the first request is still being answered.
CREATE TABLE idempotency_keys (
    actor        TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    -- a digest of the method, path, query, content type and body the key was first used with
    fingerprint  TEXT NOT NULL,
    status       INTEGER,
    content_type TEXT,
    location     TEXT,
    etag         TEXT,
    body         TEXT,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
