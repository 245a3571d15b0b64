package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestWriterRecovers: a unit of work that ends the writer's transaction
// itself leaves the connection in a state the writer does not expect; the
// writer starts afresh and the next units commit.
func TestWriterRecovers(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{SQLitePath: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exec := func(q string) func(*tx) error {
		return func(t *tx) error { _, err := t.q.ExecContext(ctx, q); return err }
	}
	if err := s.inTx(ctx, exec(`CREATE TABLE w (v TEXT)`)); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("failed")
	// Rolled back by the unit, which then fails: the writer's ROLLBACK
	// finds no transaction.
	err = s.inTx(ctx, func(t *tx) error {
		if err := exec(`INSERT INTO w VALUES ('lost')`)(t); err != nil {
			return err
		}
		if err := exec(`ROLLBACK`)(t); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("err = %v", err)
	}
	// Left inside a transaction of its own: the writer's COMMIT commits
	// that one, and nothing is left open.
	if err := s.inTx(ctx, func(t *tx) error {
		if err := exec(`COMMIT`)(t); err != nil {
			return err
		}
		return exec(`BEGIN`)(t)
	}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b"} {
		if err := s.inTx(ctx, exec(`INSERT INTO w VALUES ('`+v+`')`)); err != nil {
			t.Fatalf("insert %s: %v", v, err)
		}
	}
	var got string
	if err := s.read.QueryRowContext(ctx, `SELECT group_concat(v, ',') FROM w`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "a,b" {
		t.Errorf("table holds %q, want a,b", got)
	}
}
