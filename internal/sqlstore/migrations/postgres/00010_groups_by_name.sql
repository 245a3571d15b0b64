-- +goose Up
-- An import's commit looks up each of a row's groups by the name the row
-- holds (the organization's spelling, unique within it as name_key is).
CREATE UNIQUE INDEX groups_org_name ON groups (org_id, name);

-- +goose Down
DROP INDEX groups_org_name;
