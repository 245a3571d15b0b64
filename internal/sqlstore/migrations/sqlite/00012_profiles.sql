-- +goose Up
-- A member's profile in an organization: the personal information beyond
-- the account (seed 003's "digital identity"), filled in by the member or
-- by an administrator, who may mark it verified. It goes with the
-- membership.
CREATE TABLE profiles (
    org_id      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    phone       TEXT NOT NULL DEFAULT '',
    job_title   TEXT NOT NULL DEFAULT '',
    department  TEXT NOT NULL DEFAULT '',
    address     TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL DEFAULT '',
    verified_at TEXT,
    verified_by TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- +goose Down
DROP TABLE profiles;
