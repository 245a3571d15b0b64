package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestStmtCache: a statement is prepared once it repeats, the cache stays
// within its bound however many distinct statements pass, and a hot
// statement still gets in after a flood of one-off and repeated ones.
func TestStmtCache(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newStmtCache()
	defer c.close()
	run := func(q string) bool { // one run through the cache, then the writer's pause
		hit := c.get(q) != nil
		c.prepareMissed(conn)
		return hit
	}
	for i := range 2 {
		if run("SELECT 1") {
			t.Fatalf("cached on run %d, before it repeated", i+1)
		}
	}
	if !run("SELECT 1") {
		t.Fatal("not cached after repeating")
	}
	for i := range 3 * maxCachedStmts {
		q := fmt.Sprintf("SELECT %d", i+2)
		run(q)
		run(q)
		run(fmt.Sprintf("SELECT 'once %d'", i))
	}
	if len(c.m) > maxCachedStmts || len(c.missed) > 4*maxCachedStmts {
		t.Fatalf("cache holds %d statements and %d misses", len(c.m), len(c.missed))
	}
	run("SELECT 'hot'")
	run("SELECT 'hot'")
	if !run("SELECT 'hot'") {
		t.Error("a repeated statement did not get into a full cache")
	}
}
