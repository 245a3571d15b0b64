package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"usher/internal/invite"
)

// SQLite runs one write transaction at a time, and each commit appends
// every page the transaction touched to the WAL. Writes that arrive while
// another commits therefore queue up anyway; the writer runs them together
// instead: one transaction, each unit of work in its own savepoint (so a
// failing one undoes only itself), one commit for all. A unit of work
// alone runs in a transaction of its own, on its caller's goroutine when
// nothing else is queued or running.
//
// The writer keeps one connection for itself and runs BEGIN, COMMIT and
// every repeated statement prepared on it. A database/sql transaction
// would compile BEGIN and COMMIT anew each time, start a goroutine to
// watch its context, and bind each cached statement to itself again:
// together about as much as the INSERT of an invitation.
//
// Statements run without their caller's cancellation: the driver watches
// a cancellable context with a goroutine per statement, and SQLite
// answers an interrupted write inside an explicit transaction by rolling
// back the whole transaction, the others' work included. A unit of work
// alone is still stopped at its next statement once its caller gives up,
// and rolled back; a caller that gave up before its turn is skipped.

// maxGroup bounds how many units of work share one transaction.
const maxGroup = 64

// maxCachedStmts bounds the prepared-statement cache: statements built
// with a varying number of placeholders (an import's lookups) would
// otherwise grow it without end. A full cache makes room by closing an
// arbitrary entry, so one-off statements cannot keep the hot ones out.
const maxCachedStmts = 256

type writer struct {
	// mu is held while a transaction runs, by the loop or by a caller
	// running its work itself; busy counts the units queued or running,
	// so a caller runs its own only when there are none.
	mu   sync.Mutex
	busy atomic.Int64
	// queued counts the units handed to the loop and not yet answered.
	queued atomic.Int64
	db     *sql.DB
	// conn is the writer's connection, taken from db at the first
	// transaction (under mu) and given back when it breaks.
	conn *sql.Conn
	// orgs is where the organizations its transactions read are
	// remembered (orgcache.go).
	orgs  *orgCache
	reqs  chan *writeReq
	quit  chan struct{}
	done  chan struct{}
	stmts *stmtCache
}

type writeReq struct {
	ctx context.Context
	fn  func(*tx) error
	res chan error
	// single says fn writes with one statement: alone, it runs without
	// BEGIN and COMMIT, the statement being its own transaction.
	single bool
}

// panicked carries a panic out of the writer to the caller's goroutine.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprint("sqlstore: panic in transaction: ", p.v) }

func newWriter(db *sql.DB, orgs *orgCache) *writer {
	w := &writer{
		db:    db,
		orgs:  orgs,
		reqs:  make(chan *writeReq, maxGroup),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		stmts: newStmtCache(),
	}
	go w.loop()
	return w
}

// do runs fn in a write transaction, alone or with others.
func (w *writer) do(ctx context.Context, fn func(*tx) error) error {
	return w.run(&writeReq{ctx: ctx, fn: fn, res: make(chan error, 1)})
}

// doSingle runs fn, which writes with one statement (and may read after
// it), as its own transaction when alone, or with others.
func (w *writer) doSingle(ctx context.Context, fn func(*tx) error) error {
	return w.run(&writeReq{ctx: ctx, fn: fn, res: make(chan error, 1), single: true})
}

// run runs r on the caller's goroutine when nothing else is queued or
// running, and queues it for the loop otherwise.
func (w *writer) run(r *writeReq) error {
	ctx := r.ctx
	if err := ctx.Err(); err != nil {
		return err
	}
	defer w.busy.Add(-1)
	if w.busy.Add(1) == 1 && w.mu.TryLock() {
		// No one to share a commit with, and handing the work to the
		// loop's goroutine and back would cost two wake-ups.
		return unpanic(w.runUnlocking([]*writeReq{r})[0])
	}
	select {
	case w.reqs <- r:
		w.queued.Add(1)
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
	return unpanic(err)
}

// unpanic panics again with a panic carried out of a transaction.
func unpanic(err error) error {
	if p, ok := err.(panicked); ok {
		panic(p.v)
	}
	return err
}

// close stops the writer and gives its connection back.
func (w *writer) close() {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.release()
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
		// Whatever queues while a caller runs its own work joins this
		// batch.
		w.mu.Lock()
	gather:
		for len(batch) < maxGroup {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		errs := w.runUnlocking(batch)
		w.queued.Add(-int64(len(batch)))
		for i, r := range batch {
			r.res <- errs[i]
		}
		clear(batch)
	}
}

// runUnlocking is runLocked, then unlocks w.mu (whatever happens).
func (w *writer) runUnlocking(batch []*writeReq) []error {
	defer w.mu.Unlock()
	return w.runLocked(batch)
}

// runLocked runs batch, with w.mu held, and returns each unit's outcome.
func (w *writer) runLocked(batch []*writeReq) []error {
	errs := make([]error, len(batch))
	var live []*writeReq
	var at []int
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		live = append(live, r)
		at = append(at, i)
	}
	if len(live) == 0 {
		return errs
	}
	if w.conn == nil {
		conn, err := w.db.Conn(context.Background())
		if err != nil {
			err = fmt.Errorf("sqlstore: writer connection: %w", err)
			for _, i := range at {
				errs[i] = err
			}
			return errs
		}
		w.conn = conn
	}
	var out []error
	if len(live) == 1 {
		out = []error{w.alone(live[0])}
	} else {
		out = w.together(live)
	}
	for j, i := range at {
		errs[i] = out[j]
		if errors.Is(out[j], driver.ErrBadConn) || errors.Is(out[j], sql.ErrConnDone) {
			w.release()
		}
	}
	// Between transactions the connection is free: prepare what the last
	// ones ran unprepared, for next time.
	if w.conn != nil {
		w.stmts.prepareMissed(w.conn)
	}
	return errs
}

// release gives the writer's connection back, with its statements.
func (w *writer) release() {
	if w.conn == nil {
		return
	}
	w.stmts.close()
	w.conn.Close()
	w.conn = nil
}

// begin starts a transaction on the writer's connection; end commits it
// when err is nil, and rolls it back otherwise, or when the commit fails.
func (w *writer) begin() (*cachedTx, error) {
	q := &cachedTx{conn: w.conn, stmts: w.stmts}
	if _, err := q.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		w.release() // whatever state it is in, the next transaction starts on a fresh one
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	return q, nil
}

func (w *writer) end(q *cachedTx, err error) error {
	bg := context.Background()
	if err == nil {
		if _, err = q.ExecContext(bg, "COMMIT"); err == nil {
			return nil
		}
		err = fmt.Errorf("sqlstore: commit: %w", err)
	}
	// SQLite has rolled back by itself after some failures; a ROLLBACK
	// then finds no transaction, which is what it was for. Should it fail
	// otherwise, closing the connection rolls back.
	q.cancel = nil
	if _, rerr := q.ExecContext(bg, "ROLLBACK"); rerr != nil {
		w.release()
	}
	return err
}

func (w *writer) alone(r *writeReq) error {
	if r.single {
		// Between transactions the connection is in autocommit: the
		// statement commits by itself, and nothing else writes meanwhile
		// (the writer holds mu).
		q := &cachedTx{conn: w.conn, stmts: w.stmts, cancel: r.ctx}
		return mapErr(call(r.fn, &tx{q: q, d: SQLite, orgs: w.orgs}))
	}
	q, err := w.begin()
	if err != nil {
		return err
	}
	// The caller's cancellation stops the work at its next statement, and
	// a cancelled transaction is not committed even if the work ignored
	// the statement's error.
	q.cancel = r.ctx
	err = call(r.fn, &tx{q: q, d: SQLite, orgs: w.orgs})
	if err == nil {
		err = r.ctx.Err()
	}
	if err != nil {
		w.end(q, err)
		return mapErr(err)
	}
	return mapErr(w.end(q, nil))
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
	q, err := w.begin()
	if err != nil {
		return fail(err)
	}
	t := &tx{q: q, d: SQLite, orgs: w.orgs}
	for i, r := range live {
		if _, err := q.ExecContext(bg, "SAVEPOINT unit"); err != nil {
			return fail(w.end(q, fmt.Errorf("sqlstore: savepoint: %w", err)))
		}
		if err := call(r.fn, t); err != nil {
			errs[i] = mapErr(err)
			if _, err := q.ExecContext(bg, "ROLLBACK TO unit"); err != nil {
				return fail(w.end(q, fmt.Errorf("sqlstore: rollback to savepoint: %w", err)))
			}
		}
		if _, err := q.ExecContext(bg, "RELEASE unit"); err != nil {
			return fail(w.end(q, fmt.Errorf("sqlstore: release savepoint: %w", err)))
		}
	}
	if err := w.end(q, nil); err != nil {
		return fail(err)
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

// stmtCache keeps the writer's statements prepared on its connection.
// SQLite compiles a statement anew on every plain Exec, and an INSERT into
// invitations compiles its search-index trigger with it. A statement is
// prepared once it has run unprepared twice: preparing one that never
// comes back would only compile it twice. The writer uses it with its mu
// held.
type stmtCache struct {
	m map[string]*sql.Stmt
	// missed counts the unprepared runs of statements not in m; the
	// writer prepares the repeated ones when the connection is free.
	missed map[string]int
}

func newStmtCache() *stmtCache {
	return &stmtCache{m: map[string]*sql.Stmt{}, missed: map[string]int{}}
}

func (c *stmtCache) get(query string) *sql.Stmt {
	if st := c.m[query]; st != nil {
		return st
	}
	if len(c.missed) >= 4*maxCachedStmts {
		clear(c.missed) // one-off statements; the repeated ones come back
	}
	c.missed[query]++
	return nil
}

// prepareMissed prepares on conn the statements that ran unprepared more
// than once.
func (c *stmtCache) prepareMissed(conn *sql.Conn) {
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
		if st, err := conn.PrepareContext(context.Background(), q); err == nil {
			c.m[q] = st
		}
	}
}

func (c *stmtCache) close() {
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// cachedTx is a write transaction on the writer's connection, running
// statements through the cache and without their callers' cancellation;
// cancel, when set, is the context whose end stops every further
// statement (the driver refuses a statement whose context is done).
type cachedTx struct {
	conn   *sql.Conn
	stmts  *stmtCache
	cancel context.Context
}

func (c *cachedTx) ctx(ctx context.Context) context.Context {
	if c.cancel != nil && c.cancel.Err() != nil {
		return c.cancel
	}
	return context.WithoutCancel(ctx)
}

func (c *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = c.ctx(ctx)
	if st := c.stmts.get(query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.conn.ExecContext(ctx, query, args...)
}

func (c *cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = c.ctx(ctx)
	if st := c.stmts.get(query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.conn.QueryContext(ctx, query, args...)
}

func (c *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = c.ctx(ctx)
	if st := c.stmts.get(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.conn.QueryRowContext(ctx, query, args...)
}

// PrepareContext prepares a statement for the transaction's own use (bulk
// writes keep their chunk statements this way, and close them).
func (c *cachedTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.conn.PrepareContext(c.ctx(ctx), query)
}
