package web_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// importFixture is a file with one row of every outcome (and two ok rows),
// for an organization where boss@acme.test is a member, solo@else.test
// has an account elsewhere and pending@x.test has an open invitation.
var importFixture = [][]string{
	{"E-mail", "First name", "Last name", "Language", "Groups", "Admin", "Role", "Phone"},
	{"ana@example.com", "Ana", "Silva", "nl-BE", "Neighborhood A", "yes", "member", "1"},
	{"not-an-email", "", "", "", "", "", "", ""},
	{"ANA@example.com", "", "", "", "", "", "", ""},
	{"pending@x.test", "", "", "", "", "", "", ""},
	{"boss@acme.test", "", "", "", "", "", "", ""},
	{"solo@else.test", "Solo", "", "", "", "", "", ""},
	{"bob@example.com", "", "", "", "Nowhere", "", "", ""},
	{"carl@example.com", "", "", "", "", "maybe", "", ""},
	{"dora@example.com", "Dora", "", "fr", "", "no", "", ""},
}

var fixtureTotals = map[string]float64{"ok": 2, "invalid_email": 1, "duplicate": 1, "already_invited": 1,
	"already_member": 1, "existing_user": 1, "unknown_group": 1, "invalid_value": 1}

func fixtureCSV(t *testing.T, rows [][]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func fixtureXLSX(t *testing.T, rows [][]string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		cells := make([]any, len(row))
		for j, v := range row {
			cells[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &cells); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// upload posts a file with option fields; auth is an API key, or a
// "cookie:" header value.
func (ev *env) upload(auth, filename string, content []byte, fields ...string) response {
	ev.t.Helper()
	return ev.uploadKeyed(auth, "", filename, content, fields...)
}

// uploadKeyed is upload with an Idempotency-Key (none if empty).
func (ev *env) uploadKeyed(auth, key, filename string, content []byte, fields ...string) response {
	ev.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		ev.t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, err := http.NewRequestWithContext(ev.ctx, "POST", ev.srv.URL+"/api/v1/orgs/acme/imports", &body)
	if err != nil {
		ev.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if c, ok := strings.CutPrefix(auth, "cookie:"); ok {
		req.Header.Set("Cookie", c)
	} else if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := ev.client.Do(req)
	if err != nil {
		ev.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// waitImport polls the import until its status leaves the transient ones.
func (ev *env) waitImport(id string) map[string]any {
	ev.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := ev.want(ev.do("GET", "/api/v1/orgs/acme/imports/"+id, ev.key, nil), 200, "")
		if st := m["status"]; st != "processing" && st != "committing" {
			return m
		}
		if time.Now().After(deadline) {
			ev.t.Fatalf("import %s still %v", id, m["status"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ev *env) importFixtureState() {
	ev.t.Helper()
	if _, err := ev.svc.CreateUser(ev.ctx, "solo@else.test", "correct horse battery", false); err != nil {
		ev.t.Fatal(err)
	}
	ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": "pending@x.test"}), 201, "")
}

func (ev *env) invitationTotal(query string) int {
	ev.t.Helper()
	m := ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations?limit=1&"+query, ev.key, nil), 200, "")
	return int(m["total"].(float64))
}

func TestImportPreviewAndCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		for _, format := range []string{"csv", "xlsx"} {
			t.Run(format, func(t *testing.T) {
				ev := newEnv(t, e)
				ev.importFixtureState()
				content := fixtureCSV(t, importFixture)
				if format == "xlsx" {
					content = fixtureXLSX(t, importFixture)
				}
				m := ev.want(ev.upload(ev.key, "people."+format, content, "groups", "Neighborhood A", "message", "Welcome!"), 202, "")
				id, _ := m["id"].(string)
				if m["status"] != "processing" || id == "" {
					t.Fatalf("upload answered %v", m)
				}
				m = ev.waitImport(id)
				if m["status"] != "previewed" {
					t.Fatalf("status = %v, want previewed; %v", m["status"], m)
				}
				totals := m["totals"].(map[string]any)
				for k, want := range fixtureTotals {
					if totals[k] != want {
						t.Errorf("totals[%s] = %v, want %v (all: %v)", k, totals[k], want, totals)
					}
				}
				if p := m["progress"].(map[string]any); p["rows_read"] != float64(9) {
					t.Errorf("progress = %v, want 9 rows read", p)
				}
				if w := fmt.Sprint(m["warnings"]); !strings.Contains(w, "Phone") {
					t.Errorf("warnings = %v, want the unknown column named", w)
				}
				if ev.invitationTotal("import_id="+id) != 0 {
					t.Fatal("the preview created invitations")
				}
				rows := ev.want(ev.do("GET", "/api/v1/orgs/acme/imports/"+id+"/rows?outcome=duplicate", ev.key, nil), 200, "")
				data := rows["data"].([]any)
				if len(data) != 1 || data[0].(map[string]any)["detail"] != "duplicate of row 2" || data[0].(map[string]any)["row"] != float64(4) {
					t.Errorf("duplicate rows = %v", data)
				}
				// Paging: 9 rows, 4 per page.
				seen, cursor := 0, ""
				for page := 0; page < 5; page++ {
					r := ev.want(ev.do("GET", "/api/v1/orgs/acme/imports/"+id+"/rows?limit=4"+cursor, ev.key, nil), 200, "")
					seen += len(r["data"].([]any))
					next, _ := r["next_cursor"].(string)
					if next == "" {
						break
					}
					cursor = "&cursor=" + next
				}
				if seen != 9 {
					t.Errorf("paged through %d rows, want 9", seen)
				}

				// Two commits at once, then a third: one set of invitations.
				var wg sync.WaitGroup
				for range 2 {
					wg.Go(func() {
						res := ev.do("POST", "/api/v1/orgs/acme/imports/"+id+"/commit", ev.key, nil)
						if res.Status != 202 {
							t.Errorf("commit: status %d, body %s", res.Status, res.Body)
						}
					})
				}
				wg.Wait()
				m = ev.waitImport(id)
				if m["status"] != "committed" || m["created"] != float64(3) {
					t.Fatalf("after commit: %v", m)
				}
				if n := ev.invitationTotal("import_id=" + id); n != 3 {
					t.Fatalf("invitations of the import = %d, want 3", n)
				}
				m = ev.want(ev.do("POST", "/api/v1/orgs/acme/imports/"+id+"/commit", ev.key, nil), 202, "")
				if m["status"] != "committed" || m["created"] != float64(3) {
					t.Fatalf("second commit answered %v", m)
				}
				if n := ev.invitationTotal("import_id=" + id); n != 3 {
					t.Fatalf("after a second commit: %d invitations, want 3", n)
				}
				inv := ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations?q=ana@example.com", ev.key, nil), 200, "")["data"].([]any)[0].(map[string]any)
				if inv["status"] != "pending" || inv["language"] != "nl-BE" || inv["admin"] != true || inv["message"] != "Welcome!" ||
					inv["source"] != "import" || fmt.Sprint(inv["groups"]) != "[Neighborhood A]" || inv["username"] != "" {
					t.Errorf("ana's invitation = %v", inv)
				}
				if d := inv["delivery"].(map[string]any); d["status"] != "queued" {
					t.Errorf("ana's delivery = %v, want queued", d)
				}
				okRows := ev.want(ev.do("GET", "/api/v1/orgs/acme/imports/"+id+"/rows?outcome=ok,existing_user", ev.key, nil), 200, "")["data"].([]any)
				for _, r := range okRows {
					if r.(map[string]any)["invitation_id"] == nil {
						t.Errorf("row %v has no invitation id after commit", r)
					}
				}
				// Another organization's key sees no such import.
				other, err := ev.svc.CreateOrg(ev.ctx, "Other", "other", ev.owner.Email)
				if err != nil {
					t.Fatal(err)
				}
				otherKey, _, err := ev.svc.CreateAPIKey(ev.ctx, other.Slug, "k", invite.System)
				if err != nil {
					t.Fatal(err)
				}
				ev.want(ev.do("GET", "/api/v1/orgs/other/imports/"+id, otherKey, nil), 404, "not_found")
				ev.want(ev.do("POST", "/api/v1/orgs/other/imports/"+id+"/commit", otherKey, nil), 404, "not_found")
			})
		}
	})
}

// TestImportUploadIdempotent: an upload repeated with its Idempotency-Key
// (the client drawing a new multipart boundary) answers the first one's
// batch and starts no other; the key with another file is refused, and
// a file over the limit is refused before anything is recorded.
func TestImportUploadIdempotent(t *testing.T) {
	ev := newEnv(t, storetest.Engines()[0])
	content := fixtureCSV(t, [][]string{{"email"}, {"ana@example.com"}, {"bob@example.com"}})
	batches := func() int {
		var n int
		if err := ev.store.DB().QueryRow(`SELECT count(*) FROM imports`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := ev.uploadKeyed(ev.key, "k1", "people.csv", content, "message", "Welcome!")
	m := ev.want(first, 202, "")
	id, _ := m["id"].(string)
	again := ev.uploadKeyed(ev.key, "k1", "people.csv", content, "message", "Welcome!")
	ev.want(again, 202, "")
	if again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, first.Body) {
		t.Errorf("the repeated upload answered %s (replayed %q), want %s", again.Body, again.Header.Get("Idempotent-Replayed"), first.Body)
	}
	if n := batches(); n != 1 {
		t.Errorf("%d batches after an upload and its repetition, want 1", n)
	}
	ev.want(ev.uploadKeyed(ev.key, "k1", "people.csv", content, "message", "Hello!"), 422, "idempotency_conflict")
	ev.want(ev.uploadKeyed(ev.key, "k1", "other.csv", content, "message", "Welcome!"), 422, "idempotency_conflict")
	other := ev.want(ev.uploadKeyed(ev.key, "k2", "people.csv", content, "message", "Welcome!"), 202, "")
	if other["id"] == id {
		t.Error("another key answered the first batch")
	}
	if m := ev.waitImport(id); m["status"] != "previewed" {
		t.Errorf("the first batch is %v", m["status"])
	}
	big := bytes.Repeat([]byte("x"), 21<<20+1)
	ev.want(ev.uploadKeyed(ev.key, "k3", "big.csv", big), 413, "payload_too_large")
	if n := batches(); n != 2 {
		t.Errorf("%d batches, want 2", n)
	}
	// Nothing of the refused one was kept: the same key with a small file
	// runs.
	ev.want(ev.uploadKeyed(ev.key, "k3", "people.csv", content), 202, "")
}

func TestImportRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		// Not a spreadsheet: refused at once, nothing recorded.
		ev.want(ev.upload(ev.key, "photo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")), 415, "unsupported_file")
		ev.want(ev.upload(ev.key, "people.xlsx", []byte("email\nana@example.com\n")), 415, "unsupported_file")
		ev.want(ev.upload(ev.key, "people.csv", fixtureCSV(t, importFixture), "role", "nope"), 422, "validation_failed")
		ev.want(ev.upload(ev.key, "people.csv", []byte("name\nAna\n")), 422, "validation_failed")
		ev.want(ev.upload("", "people.csv", fixtureCSV(t, importFixture)), 401, "unauthorized")
		var n int
		if err := ev.store.DB().QueryRow(`SELECT count(*) FROM imports`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("refused uploads left %d imports (%v)", n, err)
		}
	})
}

// TestImportOverRowLimit uploads 100,001 rows: the read fails part-way,
// and the batch keeps only its reason: no rows, no invitations, no
// temporary file.
func TestImportOverRowLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 rows")
	}
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		var b bytes.Buffer
		b.WriteString("email\n")
		for i := range 100_001 {
			fmt.Fprintf(&b, "p%d@%s.example.com\n", i, e.Name)
		}
		m := ev.want(ev.upload(ev.key, "big.csv", b.Bytes()), 202, "")
		id := m["id"].(string)
		m = ev.waitImport(id)
		errObj, _ := m["error"].(map[string]any)
		if m["status"] != "failed" || errObj["code"] != "payload_too_large" || !strings.Contains(fmt.Sprint(errObj["message"]), "100,000") {
			t.Fatalf("import = %v", m)
		}
		var rows int
		if err := ev.store.DB().QueryRow(`SELECT count(*) FROM import_rows`).Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("a failed import left %d rows (%v)", rows, err)
		}
		if n := ev.invitationTotal(""); n != 0 {
			t.Fatalf("%d invitations", n)
		}
		ev.want(ev.do("POST", "/api/v1/orgs/acme/imports/"+id+"/commit", ev.key, nil), 409, "invalid_transition")
		// The spooled file goes with the goroutine that read it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := tempUploads(t, b.Bytes())
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d spooled uploads left in %s", left, os.TempDir())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// tempUploads counts the spooled uploads holding content (other tests
// upload at the same time).
func tempUploads(t *testing.T, content []byte) int {
	m, err := filepath.Glob(filepath.Join(os.TempDir(), "usher-import-*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range m {
		if b, err := os.ReadFile(name); err == nil && bytes.Equal(b, content) {
			n++
		}
	}
	return n
}

func TestImportNeedsBulkPermission(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		inv := ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": "mia@example.com", "send_email": false}), 201, "")
		link := inv["link"].(string)
		token := link[strings.LastIndex(link, "/")+1:]
		ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": token, "password": "correct horse battery",
			"first_name": "Mia", "last_name": "Member"}), 200, "")
		res := ev.do("POST", "/api/v1/session", "", map[string]any{"email": "mia@example.com", "password": "correct horse battery"})
		ev.want(res, 200, "")
		var cookies []string
		for _, c := range res.Header.Values("Set-Cookie") {
			cookies = append(cookies, strings.SplitN(c, ";", 2)[0])
		}
		ev.want(ev.upload("cookie:"+strings.Join(cookies, "; "), "people.csv", fixtureCSV(t, importFixture)), 403, "forbidden")
	})
}

// TestImportAddsExistingUsers: with add_existing_users on, an existing
// account in the file becomes a member at commit, with no email.
func TestImportAddsExistingUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		ev.importFixtureState()
		ev.want(ev.do("PATCH", "/api/v1/orgs/acme/settings", ev.key, map[string]any{"add_existing_users": true}), 200, "")
		m := ev.want(ev.upload(ev.key, "people.csv", []byte("email,groups\nsolo@else.test,Neighborhood A\nnew@example.com,\n"), "send_email", "false"), 202, "")
		id := m["id"].(string)
		if m = ev.waitImport(id); m["status"] != "previewed" {
			t.Fatalf("import = %v", m)
		}
		rows := ev.want(ev.do("GET", "/api/v1/orgs/acme/imports/"+id+"/rows?outcome=existing_user", ev.key, nil), 200, "")["data"].([]any)
		if len(rows) != 1 || !strings.Contains(rows[0].(map[string]any)["detail"].(string), "added") {
			t.Fatalf("existing_user rows = %v", rows)
		}
		ev.want(ev.do("POST", "/api/v1/orgs/acme/imports/"+id+"/commit", ev.key, nil), 202, "")
		if m = ev.waitImport(id); m["status"] != "committed" || m["created"] != float64(2) {
			t.Fatalf("after commit: %v", m)
		}
		var members, groups, mails int
		db := ev.store.DB()
		if err := db.QueryRow(`SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'solo@else.test' AND m.org_id = $1`, ev.org.ID).Scan(&members); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT count(*) FROM membership_groups g JOIN users u ON u.id = g.user_id WHERE u.email = 'solo@else.test'`).Scan(&groups); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT count(*) FROM outbox WHERE recipient IN ('solo@else.test', 'new@example.com')`).Scan(&mails); err != nil {
			t.Fatal(err)
		}
		if members != 1 || groups != 1 || mails != 0 {
			t.Fatalf("solo: %d memberships, %d groups; %d emails queued with send_email=false", members, groups, mails)
		}
		inv := ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations?q=new@example.com", ev.key, nil), 200, "")["data"].([]any)[0].(map[string]any)
		if inv["status"] != "pending" || inv["delivery"].(map[string]any)["status"] != "none" {
			t.Fatalf("new@example.com = %v", inv)
		}
	})
}
