package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportFirstRowsPlan: SQLite looks a chunk's addresses up in the
// first_seen index, not by walking the whole import's rows (which made a
// million-row preview take 750 s instead of 11 s).
func TestImportFirstRowsPlan(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, args := importFirstRowsQuery(SQLite, "imp", []string{"ana@x.test", "bob@x.test", "carla@x.test"})
	rows, err := s.DB().QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "INDEX import_rows_first_seen (import_id=? AND email=?)") {
		t.Errorf("plan %q, want a search of import_rows_first_seen by import and email", plan)
	}
}
