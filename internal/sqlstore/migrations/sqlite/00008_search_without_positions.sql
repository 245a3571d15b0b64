-- +goose Up
-- The search index keeps which rows hold each trigram, not where in them
-- (detail=none): about half the pages, and a third less time to write
-- (an import of 100,000 rows writes ~4 million trigrams). A search asks
-- for rows holding every trigram of the term and confirms the candidates
-- with LIKE (sqlstore.searchPredicate), which the positions only spared.
DROP TRIGGER invitations_search_insert;
DROP TRIGGER invitations_search_delete;
DROP TRIGGER invitations_search_update;
DROP TABLE invitations_search;
CREATE VIRTUAL TABLE invitations_search USING fts5(search, content='invitations', content_rowid='seq', tokenize='trigram', detail=none);
-- +goose StatementBegin
CREATE TRIGGER invitations_search_insert AFTER INSERT ON invitations BEGIN
    INSERT INTO invitations_search (rowid, search) VALUES (new.seq, new.search);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER invitations_search_delete AFTER DELETE ON invitations BEGIN
    INSERT INTO invitations_search (invitations_search, rowid, search) VALUES ('delete', old.seq, old.search);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER invitations_search_update AFTER UPDATE OF search ON invitations WHEN old.search <> new.search BEGIN
    INSERT INTO invitations_search (invitations_search, rowid, search) VALUES ('delete', old.seq, old.search);
    INSERT INTO invitations_search (rowid, search) VALUES (new.seq, new.search);
END;
-- +goose StatementEnd
INSERT INTO invitations_search (invitations_search) VALUES ('rebuild');

-- +goose Down
DROP TRIGGER invitations_search_insert;
DROP TRIGGER invitations_search_delete;
DROP TRIGGER invitations_search_update;
DROP TABLE invitations_search;
CREATE VIRTUAL TABLE invitations_search USING fts5(search, content='invitations', content_rowid='seq', tokenize='trigram');
-- +goose StatementBegin
CREATE TRIGGER invitations_search_insert AFTER INSERT ON invitations BEGIN
    INSERT INTO invitations_search (rowid, search) VALUES (new.seq, new.search);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER invitations_search_delete AFTER DELETE ON invitations BEGIN
    INSERT INTO invitations_search (invitations_search, rowid, search) VALUES ('delete', old.seq, old.search);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER invitations_search_update AFTER UPDATE OF search ON invitations WHEN old.search <> new.search BEGIN
    INSERT INTO invitations_search (invitations_search, rowid, search) VALUES ('delete', old.seq, old.search);
    INSERT INTO invitations_search (rowid, search) VALUES (new.seq, new.search);
END;
-- +goose StatementEnd
INSERT INTO invitations_search (invitations_search) VALUES ('rebuild');
