package invite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"usher/internal/account"
	"usher/internal/bulk"
	"usher/internal/invite"
	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
)

// BenchmarkImport measures a whole import (preview, then commit) of a
// generated file beside the raw floors measured in the same run: reading
// the file with nothing else (the bulk reader; for XLSX also excelize's
// bare Rows iterator) and a prepared one-row-at-a-time INSERT of the same
// rows into a table shaped like invitations, in one transaction. It
// reports seconds, ratios, the peak heap and the peak resident memory;
// with -benchtime Nx, each run is logged and the metrics are over all N
// (seconds per run, the ratio of the sums, the largest peaks).
//
//	go test -run '^$' -bench BenchmarkImport -benchtime 3x ./internal/invite/
//	USHER_BENCH_ROWS=1000000 go test -run '^$' -bench 'BenchmarkImport/sqlite/csv' -benchtime 1x -timeout 1h ./internal/invite/
//	USHER_BENCH_GROUPS=200 go test -run '^$' -bench 'BenchmarkImport/sqlite/csv' -benchtime 1x ./internal/invite/
//
// With USHER_TEST_POSTGRES_URL set it runs on PostgreSQL too.
func BenchmarkImport(b *testing.B) {
	rows := 100_000
	if v := os.Getenv("USHER_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	dir := b.TempDir()
	files := map[string]string{}
	file := func(format string) string {
		if files[format] == "" {
			path := filepath.Join(dir, "people."+format)
			if err := writeBenchFile(path, rows, format == "xlsx"); err != nil {
				b.Fatal(err)
			}
			files[format] = path
		}
		return files[format]
	}
	limits := bulk.Limits{MaxRows: rows, MaxBytes: 1 << 30}
	for _, e := range storetest.Engines() {
		for _, format := range []string{"csv", "xlsx"} {
			b.Run(e.Name+"/"+format, func(b *testing.B) {
				path := file(format)
				var sum importRun
				for range b.N {
					sum.add(benchImport(b, e, path, format, rows, limits))
				}
				sum.report(b, format)
			})
		}
	}
}

func benchRowValues(i int) []string {
	admin := "no"
	if i%50 == 0 {
		admin = "yes"
	}
	return []string{fmt.Sprintf("person.%d@example%d.com", i, i%97), "First" + strconv.Itoa(i), "Last" + strconv.Itoa(i),
		[]string{"en", "nl-BE", "fr", "de"}[i%4], "Sales; Support", admin, "member"}
}

var benchHeader = []string{"email", "first_name", "last_name", "language", "groups", "admin", "role"}

func writeBenchFile(path string, n int, xlsx bool) error {
	if !xlsx {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		fmt.Fprintln(w, "email,first_name,last_name,language,groups,admin,role")
		for i := range n {
			v := benchRowValues(i)
			fmt.Fprintf(w, "%s,%s,%s,%s,\"%s\",%s,%s\n", v[0], v[1], v[2], v[3], v[4], v[5], v[6])
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return f.Close()
	}
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	cells := make([]any, len(benchHeader))
	put := func(r int, vals []string) error {
		for j, v := range vals {
			cells[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, r)
		return sw.SetRow(cell, cells)
	}
	if err := put(1, benchHeader); err != nil {
		return err
	}
	for i := range n {
		if err := put(i+2, benchRowValues(i)); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.SaveAs(path)
}

// heapPeak samples the live heap every few milliseconds until stopped.
type heapPeak struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func watchHeap() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > h.peak.Load() {
			h.peak.Store(v)
		}
	}
	h.done.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	})
	return h
}

func (h *heapPeak) end() float64 {
	close(h.stop)
	h.done.Wait()
	return float64(h.peak.Load()) / (1 << 20)
}

// resetPeakRSS returns memory the process no longer uses to the system,
// resets the kernel's record of its peak resident set (Linux), and
// returns a function that reads that peak in MB: everything the process
// holds, SQLite's memory (allocated outside Go's heap) and the
// program's own pages included. The function returns 0 where the peak
// cannot be reset or read.
func resetPeakRSS() func() float64 {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return func() float64 { return 0 }
	}
	return func() float64 {
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0
		}
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				if err != nil {
					return 0
				}
				return float64(kb) / 1024
			}
		}
		return 0
	}
}

// readBench reads every record of path with the bulk reader, keeping
// them if keep.
func readBench(path string, limits bulk.Limits, keep bool) ([]bulk.Record, error) {
	rd, f, err := openBench(path, limits)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer rd.Close()
	var recs []bulk.Record
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		if keep {
			recs = append(recs, rec)
		}
	}
}

func openBench(path string, limits bulk.Limits) (*bulk.Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	rd, err := bulk.Open(f, st.Size(), filepath.Base(path), limits)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return rd, f, nil
}

// importRun is what one import of the benchmark measured; summed over
// runs, the ratio of the sums is the figure that noise moves least.
type importRun struct {
	parse, excel, raw, preview, commit time.Duration
	peak, peakRSS                      float64 // MB; the largest, when summed
}

func (r *importRun) add(o importRun) {
	r.parse += o.parse
	r.excel += o.excel
	r.raw += o.raw
	r.preview += o.preview
	r.commit += o.commit
	r.peak, r.peakRSS = max(r.peak, o.peak), max(r.peakRSS, o.peakRSS)
}

// report reports the runs summed in r, times as seconds per run. The
// floor is the bare read (excelize's for XLSX) plus the raw insert.
func (r *importRun) report(b *testing.B, format string) {
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	floor := r.parse + r.raw
	if format == "xlsx" {
		floor = r.excel + r.raw
		b.ReportMetric(per(r.excel), "excelize_s")
	}
	b.ReportMetric(per(r.parse), "parse_s")
	b.ReportMetric(per(r.raw), "rawinsert_s")
	b.ReportMetric(per(r.preview), "preview_s")
	b.ReportMetric(per(r.commit), "commit_s")
	b.ReportMetric((r.preview+r.commit).Seconds()/floor.Seconds(), "x_floor")
	b.ReportMetric(r.peak, "peakheap_MB")
	if r.peakRSS > 0 {
		b.ReportMetric(r.peakRSS, "peakrss_MB")
	}
}

func benchImport(b *testing.B, e storetest.Engine, path, format string, rows int, limits bulk.Limits) importRun {
	ctx := context.Background()
	b.StopTimer()
	// Closed when this run ends, so that a later run's resident memory
	// does not count this store's.
	store, err := sqlstore.Open(ctx, e.Options(b))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	tokens, _ := invite.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	svc := invite.New(store, nil, account.NewHasher(4), tokens, invite.Config{BaseURL: "http://usher.test"}, nil)
	owner, err := svc.CreateUser(ctx, "boss@acme.test", "correct horse battery", true)
	if err != nil {
		b.Fatal(err)
	}
	org, err := svc.CreateOrg(ctx, "Acme", "acme", owner.Email)
	if err != nil {
		b.Fatal(err)
	}
	// The rows name two groups; USHER_BENCH_GROUPS adds more to the
	// organization, which the rows do not name.
	names := []string{"Sales", "Support"}
	if v := os.Getenv("USHER_BENCH_GROUPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			names = append(names, fmt.Sprintf("Team %d", i+1))
		}
	}
	for _, g := range names {
		if _, err := svc.CreateGroup(ctx, invite.Actor{UserID: owner.ID}, "acme", g); err != nil {
			b.Fatal(err)
		}
	}
	actor, err := svc.OperatorFor(ctx, "acme")
	if err != nil {
		b.Fatal(err)
	}

	// Floors: bare reading, and a raw insert of the same rows.
	start := time.Now()
	if _, err := readBench(path, limits, false); err != nil {
		b.Fatal(err)
	}
	parse := time.Since(start)
	// Read before the rows are held for the raw insert, as the import
	// reads: with 100,000 records live the collector runs less often,
	// which made this floor about 0.6 s faster at 100,000 rows.
	var excel time.Duration
	if format == "xlsx" {
		if excel, err = bareExcelize(path); err != nil {
			b.Fatal(err)
		}
	}
	recs, err := readBench(path, limits, true) // for the raw insert
	if err != nil {
		b.Fatal(err)
	}
	raw, err := rawInsert(ctx, store, recs, org.ID, owner.ID)
	if err != nil {
		b.Fatal(err)
	}
	recs = nil

	b.StartTimer()
	rss := resetPeakRSS()
	h := watchHeap()
	start = time.Now()
	rd, f, err := openBench(path, limits)
	if err != nil {
		b.Fatal(err)
	}
	imp, run, err := svc.StartImport(ctx, actor, "acme", filepath.Base(path), rd, invite.ImportOptions{SendEmail: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := run(ctx); err != nil {
		b.Fatal(err)
	}
	rd.Close()
	f.Close()
	preview := time.Since(start)
	start = time.Now()
	_, run, err = svc.CommitImport(ctx, actor, "acme", imp.ID)
	if err != nil || run == nil {
		b.Fatalf("commit: %v", err)
	}
	if err := run(ctx); err != nil {
		b.Fatal(err)
	}
	commit := time.Since(start)
	peak := h.end()
	peakRSS := rss()
	b.StopTimer()
	done, err := svc.GetImport(ctx, actor, "acme", imp.ID)
	if err != nil {
		b.Fatal(err)
	}
	if done.Created != rows {
		b.Fatalf("created %d invitations, want %d (totals %v)", done.Created, rows, done.Totals)
	}
	floor := parse + raw
	if format == "xlsx" {
		floor = excel + raw
	}
	b.Logf("%s %s %d rows: parse %.2fs, excelize %.2fs, raw insert %.2fs; preview %.2fs, commit %.2fs; (preview+commit)/floor = %.2f; peak heap %.0f MB, peak resident %.0f MB",
		e.Name, format, rows, parse.Seconds(), excel.Seconds(), raw.Seconds(), preview.Seconds(), commit.Seconds(),
		(preview+commit).Seconds()/floor.Seconds(), peak, peakRSS)
	b.StartTimer()
	return importRun{parse: parse, excel: excel, raw: raw, preview: preview, commit: commit, peak: peak, peakRSS: peakRSS}
}

// bareExcelize reads every cell of the first sheet with excelize's
// streaming iterator, and nothing else.
func bareExcelize(path string) (time.Duration, error) {
	start := time.Now()
	f, err := excelize.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetName(0))
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		if _, err := rows.Columns(); err != nil {
			return 0, err
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// rawInsert writes recs into a copy of the invitations table (same
// columns, same B-tree indexes) with one prepared single-row INSERT per
// row in one transaction: the floor of what storing them can cost. Each
// row holds the values the import writes in those columns: the
// organization's, the inviter's and an import's ids, a nonce and a token
// hash of a token's size, the same search text. The copy has no search
// index and no foreign key: with SQLite's FTS5 trigram index, one
// statement per row makes the index flush a segment per row, and the same
// insert takes about 17 s instead of 3.5 s at 100,000 rows, which is no
// floor.
func rawInsert(ctx context.Context, store *sqlstore.Store, recs []bulk.Record, orgID, inviterID string) (time.Duration, error) {
	db := store.DB()
	ts := "TEXT"
	if store.Dialect() == sqlstore.Postgres {
		ts = "TIMESTAMPTZ"
	}
	ddl := []string{`CREATE TABLE raw_invitations (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, email TEXT NOT NULL,
		first_name TEXT NOT NULL, last_name TEXT NOT NULL, username TEXT NOT NULL, language TEXT NOT NULL,
		role TEXT NOT NULL, admin BOOLEAN NOT NULL, message TEXT NOT NULL, status TEXT NOT NULL, inviter_id TEXT,
		source TEXT NOT NULL, import_id TEXT, created_at ` + ts + ` NOT NULL, updated_at ` + ts + ` NOT NULL,
		sent_at ` + ts + `, send_count INTEGER NOT NULL, expires_at ` + ts + `, delivery_status TEXT NOT NULL,
		token_hash TEXT UNIQUE, token_nonce TEXT, search TEXT NOT NULL, version INTEGER NOT NULL)`,
		`CREATE UNIQUE INDEX raw_live ON raw_invitations (org_id, email) WHERE status IN ('draft', 'pending', 'awaiting_approval')`,
		`CREATE INDEX raw_created ON raw_invitations (org_id, created_at, id)`,
		`CREATE INDEX raw_email ON raw_invitations (org_id, email, id)`,
		`CREATE INDEX raw_expires ON raw_invitations (org_id, expires_at, id)`,
		`CREATE INDEX raw_status ON raw_invitations (org_id, status, created_at, id)`,
		`CREATE INDEX raw_pending ON raw_invitations (expires_at) WHERE status = 'pending'`,
		`CREATE INDEX raw_import ON raw_invitations (import_id) WHERE import_id IS NOT NULL`}
	for _, q := range ddl {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, err
		}
	}
	now := time.Now().UTC()
	var at any = now
	if store.Dialect() == sqlstore.SQLite {
		at = now.Format("2006-01-02T15:04:05.000000Z")
	}
	// Ids, nonces and token hashes as the import plans them (not timed
	// here; the import plans them within its preview), and token hashes as
	// random as real ones: the unique index on them is a large part of the
	// cost.
	type planned struct{ id, nonce, hash, search string }
	plans := make([]planned, len(recs))
	importID := invite.NewID()
	for i := range recs {
		f := &recs[i].Fields
		plans[i] = planned{id: invite.NewID(), nonce: invite.NewNonce(), hash: invite.HashToken(strconv.Itoa(i)),
			search: strings.ToLower(f[bulk.ColEmail] + " " + f[bulk.ColFirstName] + " " + f[bulk.ColLastName])}
	}
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO raw_invitations VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i, r := range recs {
		f := &r.Fields
		p := &plans[i]
		_, err := stmt.ExecContext(ctx, p.id, orgID, f[bulk.ColEmail], f[bulk.ColFirstName], f[bulk.ColLastName], "",
			f[bulk.ColLanguage], "member", false, "", "pending", inviterID, "import", importID, at, at, at, 1, at,
			"queued", p.hash, p.nonce, p.search, 1)
		if err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
