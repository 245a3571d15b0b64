package web_test

// Benchmarks of the core (issue 2, item 9), each beside a raw baseline
// measured in the same run through the same driver:
//
//	go test ./internal/web -run '^$' -bench . -benchtime 1x -timeout 60m
//
// (USHER_TEST_POSTGRES_URL for the PostgreSQL cases; scripts/bench.sh
// starts a server and runs them.) USHER_BENCH_ROWS sets the size of the
// list benchmark's table (default 1,000,000).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
	"usher/internal/web"
)

// benchEnv is a server and an organization for benchmarks.
type benchEnv struct {
	store *sqlstore.Store
	svc   *invite.Service
	srv   *httptest.Server
	org   *account.Organization
	key   string
}

func newBenchEnv(b *testing.B, e storetest.Engine) *benchEnv {
	b.Helper()
	ctx := context.Background()
	store := storetest.Open(b, e)
	tokens, _ := invite.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	be := &benchEnv{store: store}
	be.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + be.srv.Listener.Addr().String()
	be.svc = invite.New(store, nil, account.NewHasher(2), tokens, invite.Config{BaseURL: base}, nil)
	be.srv.Config.Handler = web.NewServer(web.Deps{Service: be.svc, Store: store, Config: web.Config{BaseURL: base}})
	be.srv.Start()
	b.Cleanup(be.srv.Close)
	owner, err := be.svc.CreateUser(ctx, "owner@bench.test", "correct horse battery", false)
	if err != nil {
		b.Fatal(err)
	}
	if be.org, err = be.svc.CreateOrg(ctx, "Bench", "bench", owner.Email); err != nil {
		b.Fatal(err)
	}
	if be.key, _, err = be.svc.CreateAPIKey(ctx, "bench", "", invite.System); err != nil {
		b.Fatal(err)
	}
	return be
}

// parallel runs n operations over clients goroutines and returns the
// elapsed time.
func parallel(b *testing.B, n, clients int, op func(i int) error) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := firstErr.Load(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// rawRow is the baseline's row: the columns and values of an invitation
// the service wrote, which insert writes again as one bare INSERT (no
// guard, no ON CONFLICT), with its own id, email, username, search text,
// token hash, nonce and times: the same row the API writes, with every
// index entry it makes.
type rawRow struct {
	d     sqlstore.Dialect
	query string
	vals  []any
	set   map[string]int // column → position, for the per-row values
}

// newRawRow reads the row of an invitation created through the service.
func newRawRow(b *testing.B, be *benchEnv) *rawRow {
	b.Helper()
	ctx := context.Background()
	actor, err := be.svc.AuthenticateKey(ctx, be.key)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := be.svc.Invite(ctx, actor, "bench", "model@bench.test", invite.Options{Source: invite.SourceAPI}); err != nil {
		b.Fatal(err)
	}
	rows, err := be.store.DB().Query(`SELECT * FROM invitations WHERE email = 'model@bench.test'`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		b.Fatal("the model invitation is not there")
	}
	r := &rawRow{d: be.store.Dialect(), vals: make([]any, len(cols)), set: map[string]int{}}
	ptrs := make([]any, len(cols))
	for i := range ptrs {
		ptrs[i] = &r.vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		b.Fatal(err)
	}
	// SQLite's seq numbers the rows (the search index's rowid): the
	// engine assigns it.
	if i := slices.Index(cols, "seq"); i >= 0 {
		cols, r.vals = slices.Delete(cols, i, i+1), slices.Delete(r.vals, i, i+1)
	}
	marks := make([]string, len(cols))
	for i, c := range cols {
		marks[i] = fmt.Sprintf("$%d", i+1)
		switch c {
		case "id", "email", "username", "search", "token_hash", "token_nonce",
			"created_at", "updated_at", "sent_at", "expires_at", "mail_due":
			if r.vals[i] == nil {
				b.Fatalf("the model invitation has no %s", c)
			}
			r.set[c] = i
		}
	}
	if len(r.set) != 11 {
		b.Fatalf("the invitations table lacks columns the baseline sets: %v", cols)
	}
	r.query = "INSERT INTO invitations (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	return r
}

// insert is the baseline: the row, for email, in one bare INSERT per
// statement (autocommit), through the store's own driver and pool. Its
// per-row values cost little to make (a hash of the email stands for
// the token hash and the nonce), so that the leg times the INSERT.
func (r *rawRow) insert(db *sql.DB, email string) error {
	vals := slices.Clone(r.vals)
	now := time.Now().UTC()
	at := func(t time.Time) any {
		if r.d == sqlstore.SQLite {
			return t.Format("2006-01-02T15:04:05.000000Z")
		}
		return t
	}
	vals[r.set["id"]] = invite.NewID()
	vals[r.set["email"]] = email
	local, _, _ := strings.Cut(email, "@")
	hash := invite.HashToken(email)
	vals[r.set["username"]] = local
	vals[r.set["search"]] = email + "  "
	vals[r.set["token_hash"]] = hash
	vals[r.set["token_nonce"]] = hash[:43]
	for _, c := range []string{"created_at", "updated_at", "sent_at", "mail_due"} {
		vals[r.set[c]] = at(now)
	}
	vals[r.set["expires_at"]] = at(now.Add(7 * 24 * time.Hour))
	_, err := db.Exec(r.query, vals...)
	return err
}

// thinInsert is the baseline this benchmark used until 2026-12-05: a
// narrower row, of the ten columns an invitation cannot do without (no
// token hash, no email due, no created event, so none of their index
// entries). Reported beside, as thin-ratio.
func thinInsert(db *sql.DB, d sqlstore.Dialect, orgID, email string) error {
	now := any(time.Now().UTC())
	if d == sqlstore.SQLite {
		now = time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	_, err := db.Exec(`INSERT INTO invitations (id, org_id, email, role, status, source, created_at, updated_at, expires_at, search)
		VALUES ($1, $2, $3, 'member', 'pending', 'api', $4, $4, $4, $5)`, invite.NewID(), orgID, email, now, email+"  ")
	return err
}

// bareServer starts a server with a single handler that reads the email
// from a JSON body, runs the baseline's INSERT with it and answers 201
// with a body as long as the API's: the HTTP exchange around the
// baseline, with nothing of usher in it. It returns the handler's URL.
func bareServer(b *testing.B, be *benchEnv, raw *rawRow) string {
	answer := bytes.Repeat([]byte{' '}, 800)
	answer[0], answer[len(answer)-1] = '{', '}'
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := raw.insert(be.store.DB(), in.Email); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func BenchmarkCreateInvitation(b *testing.B) {
	for _, e := range storetest.Engines() {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/clients=%d", e.Name, clients), func(b *testing.B) {
				be := newBenchEnv(b, e)
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
				raw := newRawRow(b, be)
				bare := bareServer(b, be, raw)
				// Raw and API rounds alternate, so that noise from the rest
				// of the machine falls on both alike. A third leg calls the
				// service directly, a fourth posts to a bare server that
				// runs only the raw INSERT, to show what the HTTP exchange
				// costs, and a fifth writes the thin row of thinInsert.
				const n, rounds = 250, 8
				actor, err := be.svc.AuthenticateKey(context.Background(), be.key)
				if err != nil {
					b.Fatal(err)
				}
				post := func(url, email string) error {
					body, _ := json.Marshal(map[string]any{"email": email})
					req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+be.key)
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						return err
					}
					io.Copy(io.Discard, res.Body) // read to the end, so the connection is reused
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						return fmt.Errorf("%s: status %d", url, res.StatusCode)
					}
					return nil
				}
				// The legs, each writing the i-th address of a round.
				legs := []func(email string) error{
					func(email string) error { return raw.insert(be.store.DB(), email) },
					func(email string) error { return post(be.srv.URL+"/api/v1/orgs/bench/invitations", email) },
					func(email string) error {
						_, err := be.svc.Invite(context.Background(), actor, "bench", email, invite.Options{})
						return err
					},
					func(email string) error { return post(bare, email) },
					func(email string) error { return thinInsert(be.store.DB(), be.store.Dialect(), be.org.ID, email) },
				}
				run := func(tag string, count int) []time.Duration {
					times := make([]time.Duration, len(legs))
					for l, leg := range legs {
						times[l] = parallel(b, count, clients, func(i int) error {
							return leg(fmt.Sprintf("leg%d-%s-%d@bench.test", l, tag, i))
						})
					}
					return times
				}
				// A round untimed first: connections opened, statements
				// prepared, caches filled, on every leg alike.
				run("warm", 50)
				var rawTime, apiTime, svcTime, bareTime, thinTime time.Duration
				for round := range b.N * rounds {
					t := run(strconv.Itoa(round), n)
					rawTime, apiTime, svcTime, bareTime, thinTime = rawTime+t[0], apiTime+t[1], svcTime+t[2], bareTime+t[3], thinTime+t[4]
				}
				rawRate := float64(n*rounds*b.N) / rawTime.Seconds()
				apiRate := float64(n*rounds*b.N) / apiTime.Seconds()
				b.ReportMetric(rawRate, "raw-inserts/s")
				b.ReportMetric(apiRate, "api-creates/s")
				b.ReportMetric(apiRate/rawRate, "ratio")
				b.ReportMetric(float64(n*rounds*b.N)/svcTime.Seconds(), "service-creates/s")
				b.ReportMetric(rawTime.Seconds()/bareTime.Seconds(), "bare-http-ratio")
				b.ReportMetric(thinTime.Seconds()/apiTime.Seconds(), "thin-ratio")
			})
		}
	}
}

// seed fills the organization with rows invitations quickly (multi-row
// INSERTs, not the API), with names and statuses spread like real data.
func seed(b *testing.B, be *benchEnv, rows int) {
	b.Helper()
	db, d := be.store.DB(), be.store.Dialect()
	first := []string{"ana", "bob", "carla", "dirk", "eva", "femke", "gert", "hanna", "ivo", "jan", "kim", "lotte"}
	last := []string{"silva", "jansen", "peeters", "dubois", "martin", "maes", "smith", "novak", "rossi", "garcia"}
	statuses := []string{"pending", "pending", "pending", "accepted", "accepted", "expired", "revoked", "declined"}
	const chunk = 500
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := func(t time.Time) any {
		if d == sqlstore.SQLite {
			return t.Format("2006-01-02T15:04:05.000000Z")
		}
		return t
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	for start := 0; start < rows; start += chunk {
		var q bytes.Buffer
		q.WriteString(`INSERT INTO invitations (id, org_id, email, first_name, last_name, role, status, source, created_at, updated_at, expires_at, search) VALUES `)
		var args []any
		for i := start; i < min(start+chunk, rows); i++ {
			if i > start {
				q.WriteString(",")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d,'member',$%d,'import',$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10)
			fn, ln := first[i%len(first)], last[(i/7)%len(last)]
			email := fmt.Sprintf("%s.%s%d@example%d.com", fn, ln, i, i%50)
			at := base.Add(time.Duration(i) * time.Second)
			args = append(args, fmt.Sprintf("%08d-seed", i), be.org.ID, email, fn, ln, statuses[i%len(statuses)],
				ts(at), ts(at), ts(at.Add(365*24*time.Hour)), email+" "+fn+" "+ln)
		}
		if _, err := tx.Exec(q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if d == sqlstore.Postgres {
		db.Exec("ANALYZE invitations")
	} else {
		db.Exec("ANALYZE")
	}
}

func BenchmarkListInvitations(b *testing.B) {
	rows := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("USHER_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	// The raw baseline is the bare SQL a hand-written list page runs on the
	// same indexes: the page SELECT and its COUNT (capped like the API's),
	// with the search predicate a person would pick for the term (the
	// trigram index for a rare one, a walk of the sort order for a common
	// one on SQLite; PostgreSQL's planner picks by itself).
	// (The trigram index keeps no positions: rows holding trigrams that
	// cover the term, every third and the last, confirmed by LIKE.)
	fts := func(q, trigrams string) string {
		return `seq IN (SELECT rowid FROM invitations_search WHERE invitations_search MATCH '` + trigrams + `') AND search LIKE '%` + q + `%'`
	}
	like := func(q string) string { return `search LIKE '%` + q + `%'` }
	both := func(w string) map[sqlstore.Dialect]string {
		return map[sqlstore.Dialect]string{sqlstore.SQLite: w, sqlstore.Postgres: w}
	}
	cases := []struct {
		name, query string
		where       map[sqlstore.Dialect]string
	}{
		{"first-page", "", nil},
		{"status=pending", "status=pending", both("status = 'pending' AND expires_at > $2")},
		{"q=rare-email", "q=carla.peeters1234", map[sqlstore.Dialect]string{sqlstore.SQLite: fts("carla.peeters1234", `"car" AND "la." AND "pee" AND "ter" AND "s12" AND "234"`), sqlstore.Postgres: like("carla.peeters1234")}},
		{"q=common-name", "q=silva", both(like("silva"))},
		{"q=domain", "q=example7.com", both(like("example7.com"))},
	}
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			be := newBenchEnv(b, e)
			t0 := time.Now()
			seed(b, be, rows)
			b.Logf("%s: seeded %d invitations in %v", e.Name, rows, time.Since(t0))
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					now := any(time.Now().UTC())
					if be.store.Dialect() == sqlstore.SQLite {
						now = time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
					}
					where := "org_id = $1"
					args := []any{be.org.ID}
					if c.where != nil {
						where += " AND " + c.where[be.store.Dialect()]
						if c.name == "status=pending" {
							args = append(args, now)
						}
					}
					raw := `SELECT id, email, first_name, last_name, status, created_at, expires_at FROM invitations WHERE ` +
						where + ` ORDER BY created_at DESC, id DESC LIMIT 51`
					count := fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM invitations WHERE %s LIMIT %d) c`, where, invite.CountCap+1)
					var rawD, pageD, apiD []time.Duration
					client := &http.Client{}
					for range max(b.N, 20) {
						t := time.Now()
						rs, err := be.store.DB().Query(raw, args...)
						if err != nil {
							b.Fatal(err)
						}
						for rs.Next() {
						}
						rs.Close()
						pageD = append(pageD, time.Since(t))
						var total int
						if err := be.store.DB().QueryRow(count, args...).Scan(&total); err != nil {
							b.Fatal(err)
						}
						rawD = append(rawD, time.Since(t))

						t = time.Now()
						req, _ := http.NewRequest("GET", be.srv.URL+"/api/v1/orgs/bench/invitations?limit=50&"+c.query, nil)
						req.Header.Set("Authorization", "Bearer "+be.key)
						res, err := client.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						var page struct {
							Data  []json.RawMessage `json:"data"`
							Total int               `json:"total"`
						}
						json.NewDecoder(res.Body).Decode(&page)
						io.Copy(io.Discard, res.Body) // read to the end, so the connection is reused
						res.Body.Close()
						apiD = append(apiD, time.Since(t))
						if res.StatusCode != 200 {
							b.Fatalf("status %d", res.StatusCode)
						}
					}
					r, a := median(rawD), median(apiD)
					b.ReportMetric(float64(median(pageD).Microseconds())/1000, "raw-page-only-ms")
					b.ReportMetric(float64(r.Microseconds())/1000, "raw-ms")
					b.ReportMetric(float64(a.Microseconds())/1000, "api-ms")
					b.ReportMetric(float64(a)/float64(r), "ratio")
				})
			}
		})
	}
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}
