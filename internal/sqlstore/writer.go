package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"usher/internal/invite"
)

// SQLite runs one write transaction at a time, and each commit appends
// every page the transaction touched to the WAL. Writes that arrive while
// another commits therefore queue up anyway; the writer runs them together
// instead: one transaction, each unit of work in its own savepoint (so a
// failing one undoes only itself), one commit for all. A unit of work
// alone runs in a transaction of its own, as before.
//
// Inside a shared transaction statements run without their caller's
// cancellation: SQLite answers an interrupted write inside an explicit
// transaction by rolling back the whole transaction, the others' work
// included. A caller that gave up before its turn is skipped.

// maxGroup bounds how many units of work share one transaction.
const maxGroup = 64

// maxCachedStmts bounds the prepared-statement cache: statements built
// with a varying number of placeholders (an import's lookups) would
// otherwise grow it without end. A full cache makes room by closing an
// arbitrary entry, so one-off statements cannot keep the hot ones out.
const maxCachedStmts = 256

type writer struct {
	db    *sql.DB
	reqs  chan *writeReq
	quit  chan struct{}
	done  chan struct{}
	stmts *stmtCache
}

type writeReq struct {
	ctx context.Context
	fn  func(*tx) error
	res chan error
}

// panicked carries a panic out of the writer to the caller's goroutine.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprint("sqlstore: panic in transaction: ", p.v) }

func newWriter(db *sql.DB) *writer {
	w := &writer{
		db:    db,
		reqs:  make(chan *writeReq, maxGroup),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		stmts: newStmtCache(db),
	}
	go w.loop()
	return w
}

// do runs fn in a write transaction, alone or with others.
func (w *writer) do(ctx context.Context, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, res: make(chan error, 1)}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return errors.New("sqlstore: store closed")
	}
	// Once queued, the work may run: wait for its outcome, whatever the
	// caller's context says, so that a success is never reported as a
	// failure.
	var err error
	select {
	case err = <-r.res:
	case <-w.done:
		select {
		case err = <-r.res:
		default:
			return errors.New("sqlstore: store closed")
		}
	}
	if p, ok := err.(panicked); ok {
		panic(p.v)
	}
	return err
}

func (w *writer) close() {
	close(w.quit)
	<-w.done
}

func (w *writer) loop() {
	defer close(w.done)
	batch := make([]*writeReq, 0, maxGroup)
	for {
		select {
		case r := <-w.reqs:
			batch = append(batch[:0], r)
		case <-w.quit:
			return
		}
	gather:
		for len(batch) < maxGroup {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		w.run(batch)
		clear(batch)
		// Between transactions the connection is free: prepare what the
		// last ones ran unprepared, for next time.
		w.stmts.prepareMissed()
	}
}

func (w *writer) run(batch []*writeReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.res <- err
			continue
		}
		live = append(live, r)
	}
	switch len(live) {
	case 0:
	case 1:
		// Alone: the transaction follows the caller's context, so a long
		// one (an import's commit) is rolled back when it is cancelled,
		// at its next statement. The statements themselves run detached:
		// the driver watches a cancellable context with a goroutine per
		// statement, which costs a short transaction several percent.
		r := live[0]
		r.res <- w.alone(r)
	default:
		errs := w.together(live)
		for i, r := range live {
			r.res <- errs[i]
		}
	}
}

func (w *writer) alone(r *writeReq) error {
	sqlTx, err := w.db.BeginTx(r.ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	if err := call(r.fn, &tx{q: &cachedTx{tx: sqlTx, stmts: w.stmts, detach: true}, d: SQLite}); err != nil {
		sqlTx.Rollback()
		return mapErr(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return mapErr(fmt.Errorf("sqlstore: commit: %w", err))
	}
	return nil
}

// errGroupFailed is given to every unit of a shared transaction that
// could not be committed for a reason of the group's own (not of the
// unit's work): the service runs such work again.
var errGroupFailed = fmt.Errorf("%w: shared write transaction failed", invite.ErrConflict)

func (w *writer) together(live []*writeReq) []error {
	errs := make([]error, len(live))
	// The group failing undoes every unit's work, and an answer given
	// from what an earlier unit wrote may no longer hold: each unit is
	// told to run again (panics still surface as panics).
	fail := func(err error) []error {
		for i := range errs {
			if _, ok := errs[i].(panicked); !ok {
				errs[i] = fmt.Errorf("%w: %w", errGroupFailed, err)
			}
		}
		return errs
	}
	bg := context.Background()
	sqlTx, err := w.db.BeginTx(bg, nil)
	if err != nil {
		return fail(fmt.Errorf("sqlstore: begin: %w", err))
	}
	q := &cachedTx{tx: sqlTx, stmts: w.stmts, detach: true}
	t := &tx{q: q, d: SQLite}
	for i, r := range live {
		if _, err := q.ExecContext(bg, "SAVEPOINT unit"); err != nil {
			sqlTx.Rollback()
			return fail(fmt.Errorf("sqlstore: savepoint: %w", err))
		}
		if err := call(r.fn, t); err != nil {
			errs[i] = mapErr(err)
			if _, err := q.ExecContext(bg, "ROLLBACK TO unit"); err != nil {
				sqlTx.Rollback()
				return fail(fmt.Errorf("sqlstore: rollback to savepoint: %w", err))
			}
		}
		if _, err := q.ExecContext(bg, "RELEASE unit"); err != nil {
			sqlTx.Rollback()
			return fail(fmt.Errorf("sqlstore: release savepoint: %w", err))
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fail(fmt.Errorf("sqlstore: commit: %w", err))
	}
	return errs
}

// call runs fn, turning a panic into an error for the writer to pass on.
func call(fn func(*tx) error, t *tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v}
		}
	}()
	return fn(t)
}

// stmtCache keeps the writer's statements prepared. SQLite compiles a
// statement anew on every plain Exec, and an INSERT into invitations
// compiles its search-index trigger with it. A statement is prepared once
// it has run unprepared twice: preparing one that never comes back would
// only compile it twice.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// missed counts the unprepared runs of statements not in m; the
	// writer prepares the repeated ones when the connection is free.
	missed map[string]int
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, missed: map[string]int{}}
}

func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[query]; st != nil {
		return st
	}
	if len(c.missed) >= 4*maxCachedStmts {
		clear(c.missed) // one-off statements; the repeated ones come back
	}
	c.missed[query]++
	return nil
}

func (c *stmtCache) prepareMissed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, n := range c.missed {
		if n < 2 {
			continue
		}
		delete(c.missed, q)
		if len(c.m) >= maxCachedStmts {
			for old, st := range c.m {
				st.Close()
				delete(c.m, old)
				break
			}
		}
		// A statement that does not prepare (a script of several) keeps
		// running unprepared.
		if st, err := c.db.Prepare(q); err == nil {
			c.m[q] = st
		}
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// cachedTx is a write transaction running the writer's statements through
// the cache. detach drops the callers' cancellation (see above).
type cachedTx struct {
	tx     *sql.Tx
	stmts  *stmtCache
	detach bool
	// uses counts statements run through the cache: database/sql keeps
	// each one's transaction-bound handle until the transaction ends, so
	// a long transaction (a bulk write) stops using the cache after
	// maxCachedUses.
	uses int
}

const maxCachedUses = 1000

func (c *cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if c.uses >= maxCachedUses {
		return nil
	}
	st := c.stmts.get(query)
	if st == nil {
		return nil
	}
	c.uses++
	return c.tx.StmtContext(ctx, st)
}

func (c *cachedTx) ctx(ctx context.Context) context.Context {
	if c.detach {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (c *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = c.ctx(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, query, args...)
}

func (c *cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = c.ctx(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, query, args...)
}

func (c *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = c.ctx(ctx)
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

// PrepareContext prepares a statement for the transaction's own use (bulk
// writes keep their chunk statements this way).
func (c *cachedTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.tx.PrepareContext(c.ctx(ctx), query)
}
