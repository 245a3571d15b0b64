package invite_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"usher/internal/bulk"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestSweepImports: a batch whose reading stopped with its instance is
// failed after a while, rows and all; a live one is left alone.
func TestSweepImports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		rd := openCSV(t, "email\nana@example.com\n")
		// Started, never run: as if the instance died while reading.
		imp, _, err := b.svc.StartImport(b.ctx, b.owner, b.org.Slug, "people.csv", rd, invite.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := b.svc.SweepImports(b.ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("SweepImports at once = %d, %v; want 0", n, err)
		}
		b.clock.Advance(2 * time.Hour)
		if n, err := b.svc.SweepImports(b.ctx, time.Hour); err != nil || n != 1 {
			t.Fatalf("SweepImports later = %d, %v; want 1", n, err)
		}
		got, err := b.svc.GetImport(b.ctx, b.owner, b.org.Slug, imp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != invite.ImportFailed || got.ErrorCode != "interrupted" {
			t.Fatalf("swept import = %s (%s), want failed (interrupted)", got.Status, got.ErrorCode)
		}
		_, _, err = b.svc.CommitImport(b.ctx, b.owner, b.org.Slug, imp.ID)
		wantCode(t, err, invite.CodeInvalidTransition)
	})
}

// openCSV opens a CSV file of content for an import; it is closed when
// the test ends.
func openCSV(t *testing.T, content string) *bulk.Reader {
	t.Helper()
	path := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	rd, f, err := openBench(path, bulk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rd.Close()
		f.Close()
	})
	return rd
}
