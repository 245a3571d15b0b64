-- +goose Up
-- An invitation's events are found by its primary key, (invitation_id,
-- id), instead of a separate index: every invitation created writes an
-- event, and one index less is one index write less. Ids are
-- time-ordered (UUIDv7).
ALTER TABLE invitation_events DROP CONSTRAINT invitation_events_pkey;
ALTER TABLE invitation_events ADD PRIMARY KEY (invitation_id, id);
DROP INDEX invitation_events_invitation;

-- +goose Down
CREATE INDEX invitation_events_invitation ON invitation_events (invitation_id, at);
ALTER TABLE invitation_events DROP CONSTRAINT invitation_events_pkey;
ALTER TABLE invitation_events ADD PRIMARY KEY (id);
