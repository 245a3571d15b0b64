package invite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"usher/internal/bulk"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// preview uploads content (CSV) into the bundle's organization with lim
// and runs the preview to its end.
func (b *bundle) preview(t *testing.T, slug, content string, lim bulk.Limits, opt invite.ImportOptions) *invite.Import {
	t.Helper()
	path := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	rd, f, err := openBench(path, lim)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer rd.Close()
	imp, run, err := b.svc.StartImport(b.ctx, b.owner, slug, "people.csv", rd, opt)
	if err != nil {
		t.Fatalf("StartImport: %v", err)
	}
	if err := run(b.ctx); err != nil {
		t.Fatalf("preview: %v", err)
	}
	got, err := b.svc.GetImport(b.ctx, b.owner, slug, imp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != invite.ImportPreviewed {
		t.Fatalf("import status %s (%s), want previewed", got.Status, got.Error)
	}
	return got
}

// commit commits a previewed batch and returns it committed.
func (b *bundle) commit(t *testing.T, slug, id string) *invite.Import {
	t.Helper()
	_, run, err := b.svc.CommitImport(b.ctx, b.owner, slug, id)
	if err != nil || run == nil {
		t.Fatalf("CommitImport: %v (nothing to run: %v)", err, run == nil)
	}
	if err := run(b.ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	got, err := b.svc.GetImport(b.ctx, b.owner, slug, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != invite.ImportCommitted {
		t.Fatalf("import status %s (%s), want committed", got.Status, got.Error)
	}
	return got
}

// rows returns every row of a batch by line.
func (b *bundle) rows(t *testing.T, slug, id string) map[int]invite.ImportRow {
	t.Helper()
	out := map[int]invite.ImportRow{}
	after := 0
	for {
		page, err := b.svc.ImportRows(b.ctx, b.owner, slug, id, nil, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Rows {
			out[r.Line] = r
		}
		if page.NextAfter == 0 {
			return out
		}
		after = page.NextAfter
	}
}

func outcome(r invite.ImportRow) string {
	if r.Detail == "" {
		return r.Outcome
	}
	return r.Outcome + ": " + r.Detail
}

// TestImportDuplicates: a repeated address is a duplicate naming its
// first row, after normalization, across chunks of rows, whether the
// preview keeps the address in memory or finds it among the rows it
// wrote (a memory of two addresses); invalid addresses never count, and
// an address counts on a row refused for another reason.
func TestImportDuplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		lines := map[int]string{
			2: "ana@example.com",
			3: "Bo@Example.com",
			4: "not-an-email",
			5: " ANA@example.COM",
			6: "not-an-email",
			7: "cy@example.com,maybe", // an invalid admin value
			8: "cy@EXAMPLE.com",
			// Past the first chunk of 500 rows.
			520: "dee@example.com",
			601: "bo@example.com",
			// Repeats in one chunk of an address first seen in it.
			700: "eve@example.com",
			701: "Eve@example.com",
			702: "eve@example.com",
			// Repeats chunks later.
			1090: "DEE@example.com",
			1099: "eve@example.com",
		}
		want := map[int]string{
			2: "ok", 3: "ok", 4: "invalid_email: missing @", 5: "duplicate: duplicate of row 2",
			6: "invalid_email: missing @", 8: "duplicate: duplicate of row 7", 520: "ok",
			601: "duplicate: duplicate of row 3", 700: "ok", 701: "duplicate: duplicate of row 700",
			702: "duplicate: duplicate of row 700", 1090: "duplicate: duplicate of row 520",
			1099: "duplicate: duplicate of row 700",
		}
		var csv strings.Builder
		csv.WriteString("email,admin\n")
		for l := 2; l <= 1100; l++ {
			v, ok := lines[l]
			if !ok {
				v = fmt.Sprintf("filler%d@example.org", l)
			}
			csv.WriteString(v + "\n")
		}
		for _, mem := range []int{0, 2} {
			t.Run(fmt.Sprintf("memory=%d", mem), func(t *testing.T) {
				b := setup(t, e)
				imp := b.preview(t, b.org.Slug, csv.String(), bulk.Limits{MaxMemoryAddresses: mem}, invite.ImportOptions{})
				rows := b.rows(t, b.org.Slug, imp.ID)
				for l, w := range want {
					if got := outcome(rows[l]); got != w {
						t.Errorf("row %d (%s) = %q, want %q", l, lines[l], got, w)
					}
				}
				if got := rows[7].Outcome; got != "invalid_value" {
					t.Errorf("row 7 = %s, want invalid_value", got)
				}
				if n := imp.Totals["duplicate"]; n != 7 {
					t.Errorf("%d duplicates, want 7 (totals %v)", n, imp.Totals)
				}
				done := b.commit(t, b.org.Slug, imp.ID)
				if okRows := 1099 - 7 - 2 - 1; done.Created != okRows {
					t.Errorf("created %d, want %d", done.Created, okRows)
				}
			})
		}
	})
}

// TestImportDuplicatesMany runs 20,000 rows, a third of them repeats
// (some of the row before, most of rows far back, differently cased),
// through a memory of 1,000 addresses, and checks every row against a
// plain map.
func TestImportDuplicatesMany(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		const n = 20_000
		var csv strings.Builder
		csv.WriteString("email\n")
		emails := make([]string, n)
		for i := range emails {
			switch {
			case i%3 == 2:
				emails[i] = fmt.Sprintf("Person.%d@Example%d.com", i/7, i/7%13)
			case i%11 == 5:
				emails[i] = emails[i-1]
			default:
				emails[i] = fmt.Sprintf("person.%d@example%d.com", i, i%13)
			}
			csv.WriteString(emails[i] + "\n")
		}
		b := setup(t, e)
		imp := b.preview(t, b.org.Slug, csv.String(), bulk.Limits{MaxRows: n, MaxMemoryAddresses: 1000}, invite.ImportOptions{})
		rows := b.rows(t, b.org.Slug, imp.ID)
		first := map[string]int{}
		dups := 0
		for i, e := range emails {
			line, key := i+2, strings.ToLower(e)
			want := "ok"
			if l, ok := first[key]; ok {
				want = fmt.Sprintf("duplicate: duplicate of row %d", l)
				dups++
			} else {
				first[key] = line
			}
			if got := outcome(rows[line]); got != want {
				t.Fatalf("row %d (%s) = %q, want %q", line, e, got, want)
			}
		}
		if imp.Totals["duplicate"] != dups || dups < n/4 {
			t.Errorf("totals %v, want %d duplicates", imp.Totals, dups)
		}
	})
}
