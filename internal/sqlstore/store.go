// Package sqlstore keeps usher's data in SQLite or PostgreSQL through one
// set of portable queries (PostgreSQL dialect, $n parameters, which the
// modernc SQLite driver binds by number too). What differs between the
// engines — schema types, time encoding, constraint errors — is kept in
// this file and the per-dialect migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"usher/internal/invite"
)

// Dialect names a database engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is usher's database. It implements invite.Store.
type Store struct {
	dialect Dialect
	// write takes every transaction. On SQLite the writer (w) keeps one
	// of its two connections and runs every transaction on it: SQLite
	// runs one writer at a time anyway, and queuing is cheaper than
	// retrying on SQLITE_BUSY. The other serves migrations and DB().
	write *sql.DB
	// read serves View: on SQLite several connections reading the WAL
	// beside the writer; on PostgreSQL the same pool as write.
	read *sql.DB
	// w runs write transactions on SQLite (writer.go); nil on PostgreSQL,
	// which takes concurrent transactions itself.
	w *writer
	// orgs remembers organizations as read, for CreateInvitationAlone
	// (orgcache.go).
	orgs *orgCache
	// closeOnce makes Close safe to call again (a deferred Close after
	// an explicit one); closeErr is what the first call answered.
	closeOnce sync.Once
	closeErr  error
}

var _ invite.Store = (*Store)(nil)

// Options say where the data lives.
type Options struct {
	// DatabaseURL selects PostgreSQL (postgres:// or postgresql://); empty
	// means SQLite in DataDir.
	DatabaseURL string
	DataDir     string
	// SQLitePath overrides the SQLite file (tests use a temp dir).
	SQLitePath string
	// MaxConns bounds the PostgreSQL pool (default 20).
	MaxConns int
}

// Open connects to the database named by opts and applies pending
// migrations.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := connect(opts)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func connect(opts Options) (*Store, error) {
	if u := opts.DatabaseURL; strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		db, err := sql.Open("pgx", u)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
		}
		n := opts.MaxConns
		if n <= 0 {
			n = 20
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		db.SetConnMaxIdleTime(5 * time.Minute)
		return &Store{dialect: Postgres, write: db, read: db, orgs: newOrgCache()}, nil
	} else if u != "" {
		return nil, fmt.Errorf("sqlstore: database URL must start with postgres:// (SQLite needs no URL, only --data)")
	}
	path := opts.SQLitePath
	if path == "" {
		dir := opts.DataDir
		if dir == "" {
			dir = "data"
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: data folder: %w", err)
		}
		path = filepath.Join(dir, "usher.db")
	}
	// busy_timeout must come before journal_mode: switching to WAL takes a
	// lock that another process may hold.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	write.SetMaxOpenConns(2)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	n := max(4, runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	orgs := newOrgCache()
	return &Store{dialect: SQLite, write: write, read: read, w: newWriter(write, orgs), orgs: orgs}, nil
}

// Dialect reports the engine.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the connection pool for writes (and reads on PostgreSQL),
// for tests and benchmarks. On SQLite its statements run beside the
// writer's transactions, not in them, and wait for them.
func (s *Store) DB() *sql.DB { return s.write }

// Close closes the connection pools. Later calls do nothing and answer
// what the first did.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.w != nil {
			s.w.close()
		}
		s.closeErr = s.write.Close()
		if s.read != s.write {
			s.closeErr = errors.Join(s.closeErr, s.read.Close())
		}
	})
	return s.closeErr
}

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

//go:embed migrations
var migrations embed.FS

// Migrate applies the embedded migrations of the store's dialect.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// migrations returns the migration provider of the store's dialect.
func (s *Store) migrations() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return nil, err
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, s.write, sub)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p, nil
}

// querier is what a transaction and a pool have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx runs the store's queries on one querier.
type tx struct {
	q    querier
	d    Dialect
	orgs *orgCache // where organizations read are remembered; may be nil
	// hooks counts the webhook endpoints of the organizations this
	// transaction has read (webhooks.go).
	hooks map[string]int
}

var _ invite.Tx = (*tx)(nil)

// InTx runs fn in a read-write transaction.
func (s *Store) InTx(ctx context.Context, fn func(invite.Tx) error) error {
	return s.inTx(ctx, func(t *tx) error { return fn(t) })
}

func (s *Store) inTx(ctx context.Context, fn func(*tx) error) error {
	if s.w != nil {
		return s.w.do(ctx, fn)
	}
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	if err := fn(&tx{q: sqlTx, d: s.dialect, orgs: s.orgs}); err != nil {
		sqlTx.Rollback()
		return mapErr(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return mapErr(fmt.Errorf("sqlstore: commit: %w", err))
	}
	return nil
}

// View runs fn against the read pool.
func (s *Store) View(ctx context.Context, fn func(invite.Tx) error) error {
	return mapErr(fn(&tx{q: s.read, d: s.dialect, orgs: s.orgs}))
}

// mapErr turns constraint and serialization failures into
// invite.ErrConflict, keeping the original in the chain.
func mapErr(err error) error {
	if err == nil || errors.Is(err, invite.ErrConflict) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "40001", "40P01": // unique_violation, serialization_failure, deadlock_detected
			return fmt.Errorf("%w: %w", invite.ErrConflict, err)
		}
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", invite.ErrConflict, err)
		}
	}
	return err
}

// Times are stored as timestamptz on PostgreSQL and, on SQLite, as
// fixed-width UTC text, which sorts and compares in time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// t encodes a time for a query argument; the zero time is NULL.
func (t *tx) t(v time.Time) any {
	if v.IsZero() {
		return nil
	}
	v = v.UTC()
	if t.d == SQLite {
		return v.Format(sqliteTime)
	}
	return v
}

// timeCol scans a time column of either engine; NULL is the zero time.
type timeCol struct{ dst *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.dst = time.Time{}
	case time.Time:
		*c.dst = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as time", src)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	v, err := time.Parse(sqliteTime, s)
	if err != nil {
		if v, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("sqlstore: bad time %q: %w", s, err)
		}
	}
	*c.dst = v.UTC()
	return nil
}

func tc(dst *time.Time) timeCol { return timeCol{dst} }

// nullStr scans a nullable text column into a string ("" for NULL).
type nullStr struct{ dst *string }

func (c nullStr) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.dst = ""
	case string:
		*c.dst = v
	case []byte:
		*c.dst = string(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T as text", src)
	}
	return nil
}

func ns(dst *string) nullStr { return nullStr{dst} }

// null turns "" into NULL for nullable text columns.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// one maps sql.ErrNoRows to invite.ErrNotFound.
func one(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return invite.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return nil
}

// affected checks that an update or delete touched a row.
func affected(res sql.Result, err error, missing error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return missing
	}
	return nil
}

// placeholders returns "$from, $from+1, ..." for n arguments.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}
