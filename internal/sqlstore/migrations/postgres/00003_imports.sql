-- +goose Up
-- Import batches (product.md §5 Import): one uploaded file, its options,
-- and each row's outcome. Rows are written while the file is read, in
-- chunks; a failed read deletes them and keeps only the batch with its
-- reason.
CREATE TABLE imports (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by        TEXT,
    status            TEXT NOT NULL,
    error_code        TEXT NOT NULL DEFAULT '',
    error             TEXT NOT NULL DEFAULT '',
    filename          TEXT NOT NULL DEFAULT '',
    options           TEXT NOT NULL DEFAULT '{}',
    totals            TEXT NOT NULL DEFAULT '{}',
    warnings          TEXT NOT NULL DEFAULT '[]',
    rows_read         INTEGER NOT NULL DEFAULT 0,
    created_count     INTEGER NOT NULL DEFAULT 0,
    commit_owner      TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    previewed_at      TIMESTAMPTZ,
    commit_started_at TIMESTAMPTZ,
    committed_at      TIMESTAMPTZ
);
CREATE INDEX imports_org ON imports (org_id, created_at);

CREATE TABLE import_rows (
    import_id     TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line          INTEGER NOT NULL,
    email         TEXT NOT NULL,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT '',
    groups        TEXT NOT NULL DEFAULT '',
    admin         BOOLEAN,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    outcome       TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    invitation_id TEXT,
    PRIMARY KEY (import_id, line)
);
-- No index on outcome: listings filter while walking the primary key in
-- row order, which a commit's chunked reads need anyway, and every index
-- is paid for on 100,000-row inserts.

-- +goose Down
DROP TABLE import_rows;
DROP TABLE imports;
