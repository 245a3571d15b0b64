package web_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// upload posts a file and option fields to a console form, as a browser
// with enctype="multipart/form-data" does.
func (b *browser) upload(path, filename string, content []byte, fields ...string) (int, http.Header, string) {
	b.ev.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		b.ev.t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, err := http.NewRequestWithContext(b.ev.ctx, "POST", b.ev.srv.URL+path, &body)
	if err != nil {
		b.ev.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := b.client.Do(req)
	if err != nil {
		b.ev.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(out)
}

// waitPage loads path until the page no longer shows a batch at work.
func (b *browser) waitPage(path string) string {
	b.ev.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, body := b.get(path)
		if st != http.StatusOK {
			b.ev.t.Fatalf("GET %s = %d", path, st)
		}
		if !strings.Contains(body, "data-import-poll") {
			if strings.Contains(body, `http-equiv="refresh"`) {
				b.ev.t.Errorf("a finished batch's page still refreshes itself")
			}
			return body
		}
		if !strings.Contains(body, `<meta http-equiv="refresh" content="2">`) {
			b.ev.t.Errorf("a batch at work has no meta refresh")
		}
		if time.Now().After(deadline) {
			b.ev.t.Fatalf("%s is still at work", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConsoleImport(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	ev.importFixtureState()
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")

	_, body := b.get("/admin/orgs/acme/invitations")
	if !strings.Contains(body, `href="/admin/orgs/acme/import"`) {
		t.Errorf("the owner's nav has no Import entry")
	}
	st, body := b.get("/admin/orgs/acme/import")
	if st != http.StatusOK || !strings.Contains(body, `href="/api/v1/import-template.csv"`) || !strings.Contains(body, `href="/api/v1/import-template.xlsx"`) ||
		!strings.Contains(body, `enctype="multipart/form-data"`) {
		t.Fatalf("import page = %d, without the form or the template links", st)
	}

	st, h, body := b.upload("/admin/orgs/acme/import", "people.csv", fixtureCSV(t, importFixture),
		"role", "member", "send_email", "false", "send_email", "true", "message", "Welcome <b>aboard</b>")
	loc := h.Get("Location")
	if st != http.StatusSeeOther || !regexp.MustCompile(`^/admin/orgs/acme/imports/[^/]+$`).MatchString(loc) {
		t.Fatalf("upload = %d → %q; %s", st, loc, body)
	}
	body = b.waitPage(loc)
	for o, n := range fixtureTotals {
		if !strings.Contains(body, fmt.Sprintf(`href="%s?outcome=%s" data-outcome="%s"`, loc, o, o)) {
			t.Errorf("no %s chip", o)
		}
		_ = n
	}
	for _, want := range []string{"ana@example.com", "not-an-email", "solo@else.test", `<span class="count">9</span>`,
		`id="commit"`, "Create 3 invitations", `data-outcome="unknown_group"`, "Phone"} {
		if !strings.Contains(body, want) {
			t.Errorf("the preview lacks %q", want)
		}
	}
	if strings.Contains(body, `id="commit" disabled`) {
		t.Errorf("the commit button is disabled with valid rows")
	}

	// Filter by outcome.
	_, body = b.get(loc + "?outcome=invalid_email")
	if !strings.Contains(body, "not-an-email") || strings.Contains(body, "dora@example.com") || !strings.Contains(body, "1 row with this outcome") {
		t.Errorf("the invalid_email filter shows the wrong rows")
	}
	if st, _ := b.get(loc + "?outcome=nonsense"); st != http.StatusUnprocessableEntity && st != http.StatusBadRequest {
		t.Errorf("an unknown outcome filter = %d", st)
	}

	// Commit, then the summary.
	st, h, _ = b.post(loc+"/commit", nil)
	if st != http.StatusSeeOther || h.Get("Location") != loc {
		t.Fatalf("commit = %d → %q", st, h.Get("Location"))
	}
	body = b.waitPage(loc)
	id := loc[strings.LastIndex(loc, "/")+1:]
	if !strings.Contains(body, "3 invitations created; emails are on their way at the configured rate.") ||
		!strings.Contains(body, `href="/admin/orgs/acme/invitations?import_id=`+id+`"`) {
		t.Errorf("the summary is missing or has no link to the import's invitations")
	}
	if strings.Contains(body, `id="commit"`) {
		t.Errorf("a committed batch still offers to commit")
	}
	if n := ev.invitationTotal("import_id=" + id); n != 3 {
		t.Errorf("invitations of the import = %d, want 3", n)
	}
	_, body = b.get("/admin/orgs/acme/invitations?import_id=" + id)
	if !strings.Contains(body, `data-email="ana@example.com"`) || strings.Contains(body, `data-email="pending@x.test"`) || !strings.Contains(body, `id="import-filter"`) {
		t.Errorf("the invitations list does not filter by import")
	}
	// Committing again changes nothing.
	b.post(loc+"/commit", nil)
	b.waitPage(loc)
	if n := ev.invitationTotal("import_id=" + id); n != 3 {
		t.Errorf("after a second commit, invitations of the import = %d, want 3", n)
	}
}

func TestConsoleImportRefusals(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	before := ev.invitationTotal("")

	cases := []struct {
		name, filename string
		content        []byte
		status         int
		want           string
	}{
		{"unsupported", "people.pdf", []byte("%PDF-1.4 not a spreadsheet"), http.StatusUnsupportedMediaType, `id="import-error"`},
		{"no email column", "people.csv", []byte("name,phone\nAna,1\n"), http.StatusUnprocessableEntity, "email"},
		{"no file", "", nil, http.StatusUnprocessableEntity, "Choose a CSV or XLSX file"},
	}
	for _, c := range cases {
		st, _, body := b.upload("/admin/orgs/acme/import", c.filename, c.content)
		if st != c.status || !strings.Contains(body, c.want) || !strings.Contains(body, `class="notice bad"`) {
			t.Errorf("%s: upload = %d, want %d with %q shown; %s", c.name, st, c.status, c.want, body)
		}
		if !strings.Contains(body, `action="/admin/orgs/acme/import"`) {
			t.Errorf("%s: the error is not shown on the upload page", c.name)
		}
		if c.content != nil && tempUploads(t, c.content) != 0 {
			t.Errorf("%s: the upload was left in the temporary folder", c.name)
		}
	}
	if n := ev.invitationTotal(""); n != before {
		t.Errorf("refused uploads made invitations: %d, want %d", n, before)
	}
}

func TestConsoleImportNeedsBulkPermission(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	_, token := ev.invite("member@acme.test", invite.Options{})
	if _, err := ev.svc.Accept(ev.ctx, token, invite.Registration{Password: "plain member password", FirstName: "Mem"}); err != nil {
		t.Fatal(err)
	}
	b := ev.browser()
	b.signIn("member@acme.test", "plain member password")
	_, body := b.get("/admin/orgs/acme/members")
	if strings.Contains(body, "/admin/orgs/acme/import\"") {
		t.Errorf("a member without invitations.bulk sees the Import entry")
	}
	if st, _ := b.get("/admin/orgs/acme/import"); st != http.StatusForbidden {
		t.Errorf("GET import as member = %d, want 403", st)
	}
	content := fixtureCSV(t, [][]string{{"email"}, {"zed@example.com"}})
	if st, _, _ := b.upload("/admin/orgs/acme/import", "people.csv", content); st != http.StatusForbidden {
		t.Errorf("POST import as member = %d, want 403", st)
	}
	if n := ev.invitationTotal("q=zed"); n != 0 {
		t.Errorf("the refused upload made an invitation")
	}
}

func TestPasswordCheck(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	b := ev.browser()
	check := func(password, policy string) (int, string) {
		st, _, body := b.post("/password-check", map[string][]string{"password": {password}, "policy": {policy}})
		return st, body
	}
	if st, body := check("password123", "nist"); st != http.StatusOK || !strings.Contains(body, `"code":"common"`) {
		t.Errorf("check(common) = %d %s, want the common rule broken", st, body)
	}
	if st, body := check("violet tram under oak", "nist"); st != http.StatusOK || strings.TrimSpace(body) != `{"broken":[]}` {
		t.Errorf("check(good) = %d %s, want nothing broken", st, body)
	}
	if st, body := check("short", "strict"); st != http.StatusOK || !strings.Contains(body, `"code":"upper"`) {
		t.Errorf("check(strict) = %d %s", st, body)
	}
	if st, _ := check("x", "lax"); st != http.StatusUnprocessableEntity && st != http.StatusBadRequest {
		t.Errorf("check(unknown policy) = %d", st)
	}
	// The limit: a burst, then 429.
	limited := false
	for range 60 {
		if st, _ := check("password123", "nist"); st == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Errorf("the password check is not rate-limited")
	}
	// The registration page wires the live check.
	_, token := ev.invite("new@example.com", invite.Options{})
	if _, body := b.get("/i/" + token); !strings.Contains(body, `data-check="/password-check"`) {
		t.Errorf("the registration form does not ask the server about common passwords")
	}
}

func TestConsoleImportWithNothingValid(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	content := fixtureCSV(t, [][]string{{"email"}, {"not-an-email"}, {"boss@acme.test"}})
	st, h, _ := b.upload("/admin/orgs/acme/import", "people.csv", content, "send_email", "false")
	if st != http.StatusSeeOther {
		t.Fatalf("upload = %d", st)
	}
	body := b.waitPage(h.Get("Location"))
	if !strings.Contains(body, `id="commit" disabled`) || !strings.Contains(body, "None of them can become an invitation") {
		t.Errorf("with no valid row the commit button is not disabled or not explained")
	}
}
