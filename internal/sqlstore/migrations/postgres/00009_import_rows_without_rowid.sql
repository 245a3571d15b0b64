-- +goose Up
-- SQLite's import_rows lost its rowid (its 00009); PostgreSQL tables have
-- none. This keeps the two engines' migrations numbered alike.
SELECT 1;

-- +goose Down
SELECT 1;
