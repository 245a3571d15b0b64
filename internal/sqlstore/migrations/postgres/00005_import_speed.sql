-- +goose Up
-- Import at spreadsheet scale (issue 5). A commit creates the invitations
-- of a batch with a few INSERT … SELECT statements over its rows, so each
-- row keeps what its invitation needs beyond the file's values, planned
-- at preview with the invitation's id: the token (its nonce, and the hash
-- stored in place of the token, which only the application can derive)
-- and the search text (lowercased as the application lowercases it).
ALTER TABLE import_rows ADD COLUMN token_nonce TEXT;
ALTER TABLE import_rows ADD COLUMN token_hash TEXT;
ALTER TABLE import_rows ADD COLUMN search TEXT;
-- Duplicate addresses: the preview keeps a bounded number of addresses in
-- memory and marks the first row of every other address here, where the
-- rows after it find it. At most one such row per address.
ALTER TABLE import_rows ADD COLUMN first_seen BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX import_rows_first_seen ON import_rows (import_id, email) WHERE first_seen;

-- +goose Down
DROP INDEX import_rows_first_seen;
ALTER TABLE import_rows DROP COLUMN first_seen;
ALTER TABLE import_rows DROP COLUMN search;
ALTER TABLE import_rows DROP COLUMN token_hash;
ALTER TABLE import_rows DROP COLUMN token_nonce;
