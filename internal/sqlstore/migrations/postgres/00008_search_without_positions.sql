-- +goose Up
-- SQLite's search index changed (its 00008); PostgreSQL's pg_trgm index
-- did not. This keeps the two engines' migrations numbered alike.
SELECT 1;

-- +goose Down
SELECT 1;
