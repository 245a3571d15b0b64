// Package storetest opens real databases for tests: SQLite in a temp dir
// always, and PostgreSQL when USHER_TEST_POSTGRES_URL names a server (the
// test script starts one). Each PostgreSQL store lives in a schema of its
// own, so tests run in parallel without seeing each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"usher/internal/sqlstore"
)

// Engine is a database engine tests can run against.
type Engine struct {
	Name string
	// URL returns the options of a fresh, empty database.
	Options func(t testing.TB) sqlstore.Options
}

// PostgresURLEnv names the variable with the test server's URL.
const PostgresURLEnv = "USHER_TEST_POSTGRES_URL"

// Engines lists SQLite and, when a server is configured, PostgreSQL.
// Without one, the PostgreSQL cases are skipped, loudly, except under CI,
// where a missing server fails the run.
func Engines() []Engine {
	return []Engine{
		{Name: "sqlite", Options: func(t testing.TB) sqlstore.Options {
			return sqlstore.Options{SQLitePath: filepath.Join(t.TempDir(), "usher.db")}
		}},
		{Name: "postgres", Options: postgresOptions},
	}
}

func postgresOptions(t testing.TB) sqlstore.Options {
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the tests with scripts/test.sh", PostgresURLEnv)
		}
		t.Skipf("%s is not set; scripts/test.sh starts a PostgreSQL server for these tests", PostgresURLEnv)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return sqlstore.Options{DatabaseURL: u.String(), MaxConns: 10}
}

// Open opens a fresh, migrated store on engine, closed when the test ends.
func Open(t testing.TB, e Engine) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), e.Options(t))
	if err != nil {
		t.Fatalf("open %s store: %v", e.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Each runs fn as a subtest on every engine.
func Each(t *testing.T, fn func(t *testing.T, e Engine)) {
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}
