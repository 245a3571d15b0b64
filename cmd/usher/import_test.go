package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
)

// TestImportCommand runs usher in-process: create an admin and an
// organization, preview a file, commit it, and refuse files that cannot
// be imported, leaving nothing behind.
func TestImportCommand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		dir := t.TempDir()
		opts := e.Options(t)
		env := map[string]string{"USHER_DATA": dir, "USHER_DATABASE_URL": opts.DatabaseURL}
		if opts.SQLitePath != "" {
			env["USHER_DATABASE_URL"] = ""
		}
		getenv := func(k string) string { return env[k] }
		usher := func(args ...string) (string, string, error) {
			var out, errOut bytes.Buffer
			err := run(ctx, args, getenv, &out, &errOut)
			return out.String(), errOut.String(), err
		}
		if _, stderr, err := usher("admin", "create", "--email", "boss@acme.test", "--password", "correct horse battery", "--org", "Acme"); err != nil {
			t.Fatalf("admin create: %v\n%s", err, stderr)
		}
		file := filepath.Join(dir, "people.csv")
		os.WriteFile(file, []byte("Email;First name;Role;Phone\nana@example.com;Ana;member;1\nnot-an-email;;;\nANA@example.com;;;\nboss@acme.test;;;\nbo@example.com;;chief;\ncy@example.com;Cy;;\n"), 0o600)

		out, stderr, err := usher("import", "--org", "acme", file)
		if err != nil {
			t.Fatalf("import: %v\n%s", err, stderr)
		}
		for _, want := range []string{"6 rows read", "ok               2", "already_member   1", "duplicate        1",
			"invalid_email    1", "invalid_value    1", `unknown column "Phone"`, "row 3", "duplicate of row 2", "preview only"} {
			if !strings.Contains(out, want) {
				t.Errorf("preview output lacks %q:\n%s", want, out)
			}
		}
		if n := count(t, dir, opts, `SELECT count(*) FROM invitations`); n != 0 {
			t.Fatalf("a preview created %d invitations", n)
		}

		out, stderr, err = usher("import", "--org", "acme", "--commit", file)
		if err != nil {
			t.Fatalf("import --commit: %v\n%s", err, stderr)
		}
		if !strings.Contains(out, "committed: 2 invitations created") {
			t.Fatalf("commit output:\n%s", out)
		}
		if n := count(t, dir, opts, `SELECT count(*) FROM invitations WHERE source = 'import'`); n != 2 {
			t.Fatalf("%d invitations, want 2", n)
		}
		// The same file again: everyone valid is invited already.
		out, _, err = usher("import", "--org", "acme", "--commit", file)
		if err != nil || !strings.Contains(out, "already_invited  2") || !strings.Contains(out, "committed: 0 invitations created") {
			t.Fatalf("repeated import: %v\n%s", err, out)
		}

		imports := count(t, dir, opts, `SELECT count(*) FROM imports`)
		pdf := filepath.Join(dir, "people.pdf")
		os.WriteFile(pdf, []byte("%PDF-1.7\n..."), 0o600)
		if _, _, err := usher("import", "--org", "acme", pdf); err == nil || !strings.Contains(err.Error(), "unsupported_file") {
			t.Fatalf("a PDF: err = %v, want unsupported_file", err)
		}
		if _, _, err := usher("import", "--org", "acme", "--max-rows", "3", file); err == nil || !strings.Contains(err.Error(), "payload_too_large") {
			t.Fatalf("over the row limit: err = %v, want payload_too_large", err)
		}
		if n := count(t, dir, opts, `SELECT count(*) FROM imports`); n != imports+1 {
			t.Fatalf("imports = %d, want %d (only the failed one's record)", n, imports+1)
		}
		if n := count(t, dir, opts, `SELECT count(*) FROM import_rows r JOIN imports i ON i.id = r.import_id WHERE i.status = 'failed'`); n != 0 {
			t.Fatalf("a failed import left %d rows", n)
		}
	})
}

func count(t *testing.T, dir string, opts sqlstore.Options, q string) int {
	t.Helper()
	opts.DataDir, opts.SQLitePath = dir, ""
	s, err := sqlstore.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
