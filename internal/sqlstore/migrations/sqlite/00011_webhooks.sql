-- +goose Up
-- Webhook endpoints: an organization's events are POSTed to each, signed
-- with its secret (Standard Webhooks).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id);

-- How many endpoints an organization has: a create that writes in one
-- statement (orgcache.go) is taken only while there are none, as it
-- writes no webhook messages.
ALTER TABLE organizations ADD COLUMN webhooks INTEGER NOT NULL DEFAULT 0;

-- One event to one endpoint, written in the transaction that recorded the
-- event; the webhook worker delivers it, retrying with backoff.
CREATE TABLE webhook_messages (
    webhook_id    TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    invitation_id TEXT NOT NULL,
    type          TEXT NOT NULL,
    from_status   TEXT NOT NULL DEFAULT '',
    to_status     TEXT NOT NULL DEFAULT '',
    actor         TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'queued',
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    delivered_at  TEXT,
    lease_owner   TEXT,
    lease_until   TEXT,
    PRIMARY KEY (webhook_id, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_messages_due ON webhook_messages (due_at) WHERE status = 'queued';

-- +goose Down
DROP TABLE webhook_messages;
ALTER TABLE organizations DROP COLUMN webhooks;
DROP TABLE webhooks;
