-- +goose Up
-- An invitation's events are kept together, in the table itself: the
-- history of one invitation is a range of the primary key, and a write
-- touches one B-tree less than with a separate index (every invitation
-- created writes an event). Ids are time-ordered (UUIDv7).
CREATE TABLE invitation_events_new (
    id            TEXT NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    at            TEXT NOT NULL,
    type          TEXT NOT NULL,
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    actor_id      TEXT,
    actor         TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (invitation_id, id)
) WITHOUT ROWID;
INSERT INTO invitation_events_new (id, invitation_id, org_id, at, type, from_status, to_status, actor_id, actor, detail)
    SELECT id, invitation_id, org_id, at, type, from_status, to_status, actor_id, actor, detail FROM invitation_events;
DROP TABLE invitation_events;
ALTER TABLE invitation_events_new RENAME TO invitation_events;
CREATE INDEX invitation_events_org ON invitation_events (org_id, id);

-- +goose Down
CREATE TABLE invitation_events_old (
    id            TEXT PRIMARY KEY,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    at            TEXT NOT NULL,
    type          TEXT NOT NULL,
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    actor_id      TEXT,
    actor         TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
INSERT INTO invitation_events_old (id, invitation_id, org_id, at, type, from_status, to_status, actor_id, actor, detail)
    SELECT id, invitation_id, org_id, at, type, from_status, to_status, actor_id, actor, detail FROM invitation_events;
DROP TABLE invitation_events;
ALTER TABLE invitation_events_old RENAME TO invitation_events;
CREATE INDEX invitation_events_invitation ON invitation_events (invitation_id, at);
CREATE INDEX invitation_events_org ON invitation_events (org_id, id);
