-- +goose Up
-- A new invitation's email is recorded as due on the invitation itself
-- rather than as an outbox row: every invitation created would otherwise
-- write a second row (and three B-tree entries) in the same transaction.
-- The mail worker moves due ones into the outbox, a batch at a time,
-- before it claims (sqlstore.ClaimEmails); from there on the email is an
-- outbox email like any other.
ALTER TABLE invitations ADD COLUMN mail_due TEXT;
CREATE INDEX invitations_mail_due ON invitations (mail_due, id) WHERE mail_due IS NOT NULL;

-- +goose Down
INSERT INTO outbox (id, org_id, kind, invitation_id, recipient, data, created_at, due_at)
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6))), org_id, 'invitation', id, email, '{}', mail_due, mail_due
    FROM invitations WHERE mail_due IS NOT NULL;
DROP INDEX invitations_mail_due;
ALTER TABLE invitations DROP COLUMN mail_due;
