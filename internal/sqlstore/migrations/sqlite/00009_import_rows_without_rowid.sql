-- +goose Up
-- An import's rows are always read and written by (import_id, line): the
-- preview appends them in that order, and a commit reads them so four or
-- five times. As a rowid table with a separate primary-key index, each
-- row was written to two b-trees and each read went through the index to
-- the table; without a rowid, the rows are kept in the primary key's
-- order in one b-tree.
CREATE TABLE import_rows_new (
    import_id     TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line          INTEGER NOT NULL,
    email         TEXT NOT NULL,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT '',
    groups        TEXT NOT NULL DEFAULT '',
    admin         INTEGER,
    is_admin      INTEGER NOT NULL DEFAULT FALSE,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    invitation_id TEXT,
    token_nonce   TEXT,
    token_hash    TEXT,
    search        TEXT,
    first_seen    INTEGER NOT NULL DEFAULT FALSE,
    PRIMARY KEY (import_id, line)
) WITHOUT ROWID;
INSERT INTO import_rows_new SELECT import_id, line, email, first_name, last_name, language, role, groups, admin,
    is_admin, outcome, detail, invitation_id, token_nonce, token_hash, search, first_seen FROM import_rows;
DROP TABLE import_rows;
ALTER TABLE import_rows_new RENAME TO import_rows;
CREATE UNIQUE INDEX import_rows_first_seen ON import_rows (import_id, email) WHERE first_seen;

-- +goose Down
CREATE TABLE import_rows_old (
    import_id     TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line          INTEGER NOT NULL,
    email         TEXT NOT NULL,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT '',
    groups        TEXT NOT NULL DEFAULT '',
    admin         INTEGER,
    is_admin      INTEGER NOT NULL DEFAULT FALSE,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    invitation_id TEXT,
    token_nonce   TEXT,
    token_hash    TEXT,
    search        TEXT,
    first_seen    INTEGER NOT NULL DEFAULT FALSE,
    PRIMARY KEY (import_id, line)
);
INSERT INTO import_rows_old SELECT import_id, line, email, first_name, last_name, language, role, groups, admin,
    is_admin, outcome, detail, invitation_id, token_nonce, token_hash, search, first_seen FROM import_rows;
DROP TABLE import_rows;
ALTER TABLE import_rows_old RENAME TO import_rows;
CREATE UNIQUE INDEX import_rows_first_seen ON import_rows (import_id, email) WHERE first_seen;
