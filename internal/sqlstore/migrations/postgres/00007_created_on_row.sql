-- +goose Up
-- An invitation's created event is recorded on the invitation itself
-- (created_by not NULL) rather than as a row of invitation_events: every
-- invitation created would otherwise write a second row, in two B-trees,
-- in the same transaction. The event's id is the invitation's, and its
-- time the invitation's created_at; the store reads both kinds alike.
-- Invitations created before this keep their event in invitation_events.
ALTER TABLE invitations ADD COLUMN created_by_id TEXT;
ALTER TABLE invitations ADD COLUMN created_by TEXT;
ALTER TABLE invitations ADD COLUMN created_status TEXT;
ALTER TABLE invitations ADD COLUMN created_detail TEXT;
-- The audit lists an organization's events newest first, by id.
CREATE INDEX invitations_created_event ON invitations (org_id, id) WHERE created_by IS NOT NULL;

-- +goose Down
INSERT INTO invitation_events (id, invitation_id, org_id, at, type, from_status, to_status, actor_id, actor, detail)
    SELECT id, id, org_id, created_at, 'created', '', created_status, created_by_id, created_by, created_detail
    FROM invitations WHERE created_by IS NOT NULL;
DROP INDEX invitations_created_event;
ALTER TABLE invitations DROP COLUMN created_detail;
ALTER TABLE invitations DROP COLUMN created_status;
ALTER TABLE invitations DROP COLUMN created_by;
ALTER TABLE invitations DROP COLUMN created_by_id;
