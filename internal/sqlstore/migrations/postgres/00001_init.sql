-- +goose Up
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    username       TEXT NOT NULL UNIQUE,
    first_name     TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    language       TEXT NOT NULL DEFAULT '',
    password_hash  TEXT NOT NULL DEFAULT '',
    instance_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    personal   BOOLEAN NOT NULL DEFAULT FALSE,
    settings   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE roles (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    built_in    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name_key)
);

CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    admin      BOOLEAN NOT NULL DEFAULT FALSE,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE membership_groups (
    org_id   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, user_id, group_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email            TEXT NOT NULL,
    first_name       TEXT NOT NULL DEFAULT '',
    last_name        TEXT NOT NULL DEFAULT '',
    username         TEXT NOT NULL DEFAULT '',
    language         TEXT NOT NULL DEFAULT '',
    role             TEXT NOT NULL,
    admin            BOOLEAN NOT NULL DEFAULT FALSE,
    message          TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    inviter_id       TEXT,
    source           TEXT NOT NULL,
    import_id        TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ,
    send_count       INTEGER NOT NULL DEFAULT 0,
    expires_at       TIMESTAMPTZ,
    reminded_steps   INTEGER NOT NULL DEFAULT 0,
    accepted_at      TIMESTAMPTZ,
    accepted_user_id TEXT,
    external_user_id TEXT,
    decided_at       TIMESTAMPTZ,
    decided_by       TEXT,
    revoked_at       TIMESTAMPTZ,
    delivery_status  TEXT NOT NULL DEFAULT 'none',
    delivery_error   TEXT NOT NULL DEFAULT '',
    delivered_at     TIMESTAMPTZ,
    redirect_url     TEXT NOT NULL DEFAULT '',
    metadata         TEXT NOT NULL DEFAULT '{}',
    token_hash       TEXT UNIQUE,
    token_nonce      TEXT,
    search           TEXT NOT NULL DEFAULT '',
    version          INTEGER NOT NULL DEFAULT 1
);
-- At most one live invitation per organization and email (product.md §3).
CREATE UNIQUE INDEX invitations_live ON invitations (org_id, email)
    WHERE status IN ('draft', 'pending', 'awaiting_approval');
CREATE INDEX invitations_org_created ON invitations (org_id, created_at, id);
CREATE INDEX invitations_org_email ON invitations (org_id, email, id);
CREATE INDEX invitations_org_expires ON invitations (org_id, expires_at, id);
CREATE INDEX invitations_org_status ON invitations (org_id, status, created_at, id);
CREATE INDEX invitations_pending_expiry ON invitations (expires_at) WHERE status = 'pending';
CREATE INDEX invitations_import ON invitations (import_id) WHERE import_id IS NOT NULL;

-- Search by any part of the email or name: a trigram index answers
-- LIKE '%…%' without scanning the table. pg_trgm ships with PostgreSQL's
-- contrib modules; where it cannot be installed, search still works, by
-- scanning. The extension goes to the public schema, shared by all.
-- +goose StatementBegin
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); invitation search will scan', SQLERRM;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX invitations_search ON invitations USING gin (search public.gin_trgm_ops)';
    END IF;
END
$$;
-- +goose StatementEnd

CREATE TABLE invitation_groups (
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    group_id      TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, group_id)
);

-- Every token ever issued, so that a replaced link is told apart from an
-- unknown one. Only hashes.
CREATE TABLE invitation_tokens (
    hash          TEXT PRIMARY KEY,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX invitation_tokens_invitation ON invitation_tokens (invitation_id);

CREATE TABLE invitation_events (
    id            TEXT PRIMARY KEY,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    type          TEXT NOT NULL,
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    actor_id      TEXT,
    actor         TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX invitation_events_invitation ON invitation_events (invitation_id, at);
CREATE INDEX invitation_events_org ON invitation_events (org_id, id);

CREATE TABLE audit_log (
    id       TEXT PRIMARY KEY,
    org_id   TEXT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    actor_id TEXT,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT,
    name       TEXT NOT NULL DEFAULT '',
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

-- The email seam: a message due, written in the transaction of the change
-- that causes it and delivered by the mail worker.
CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    invitation_id TEXT,
    user_id       TEXT,
    recipient     TEXT NOT NULL,
    data          TEXT NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    status        TEXT NOT NULL DEFAULT 'queued',
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    sent_at       TIMESTAMPTZ,
    lease_owner   TEXT,
    lease_until   TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE status = 'queued';
CREATE INDEX outbox_invitation ON outbox (invitation_id);

-- The built-in mailbox: messages "sent" while no SMTP server is configured.
CREATE TABLE mailbox (
    id         TEXT PRIMARY KEY,
    outbox_id  TEXT UNIQUE,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX mailbox_recipient ON mailbox (recipient, sent_at);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE sessions (
    hash         TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);

-- Singleton work (sweeps) across instances: whoever holds the lease runs it.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TIMESTAMPTZ NOT NULL
);

CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE instance;
DROP TABLE leases;
DROP TABLE sessions;
DROP TABLE idempotency_keys;
DROP TABLE mailbox;
DROP TABLE outbox;
DROP TABLE api_keys;
DROP TABLE audit_log;
DROP TABLE invitation_events;
DROP TABLE invitation_tokens;
DROP TABLE invitation_groups;
DROP TABLE invitations;
DROP TABLE membership_groups;
DROP TABLE memberships;
DROP TABLE groups;
DROP TABLE roles;
DROP TABLE organizations;
DROP TABLE users;
