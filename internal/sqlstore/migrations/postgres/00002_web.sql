-- +goose Up
-- Password resets and open sign-ups: a link sent by email. The token is
-- never stored, only its hash and the nonce it is derived from (as for
-- invitations, internal/invite/token.go). user_id is NULL for a sign-up
-- that has no account yet.
CREATE TABLE password_resets (
    id          TEXT PRIMARY KEY,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL DEFAULT '',
    nonce       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
CREATE INDEX password_resets_email ON password_resets (email, created_at);

-- +goose Down
DROP TABLE password_resets;
