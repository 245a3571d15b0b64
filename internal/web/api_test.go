package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/mail"
	"usher/internal/sqlstore/storetest"
	"usher/internal/web"
)

var linkRE = regexp.MustCompile(`/i/([A-Za-z0-9_-]{43})`)

// deliver runs the mail worker once, so that due email reaches the
// built-in mailbox, and returns the newest message to addr.
func (ev *env) deliver(addr string) map[string]any {
	ev.t.Helper()
	renderer, err := mail.NewRenderer()
	if err != nil {
		ev.t.Fatal(err)
	}
	runner := job.New(job.Config{}, ev.store, ev.svc, renderer, nil, nil)
	for {
		n, err := runner.DeliverOnce(ev.ctx)
		if err != nil {
			ev.t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	r := ev.do("GET", "/api/v1/mailbox?to="+addr, ev.key, nil)
	if r.Status != http.StatusOK {
		ev.t.Fatalf("mailbox: %d %s", r.Status, r.Body)
	}
	msgs := decodeList(ev.t, r.Body)
	if len(msgs) == 0 {
		ev.t.Fatalf("no mail for %s", addr)
	}
	return msgs[0]
}

// tokenIn returns the token of the accept link in a text.
func tokenIn(t *testing.T, text string) string {
	t.Helper()
	m := linkRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no invitation link in %q", text)
	}
	return m[1]
}

func TestAPILifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		key := ev.key
		org := "/api/v1/orgs/acme"

		// Batch invite: the bad address is reported, the others invited.
		r := ev.want(ev.do("POST", org+"/invitations/batch", key, map[string]any{
			"emails": "ana@example.com; bob@example.com, not-an-email", "groups": []string{"Neighborhood A"}, "message": "Welcome!",
		}), 200, "")
		totals := r["totals"].(map[string]any)
		if totals["invited"] != 2.0 || totals["invalid_email"] != 1.0 {
			t.Fatalf("batch totals = %v", totals)
		}
		results := r["results"].([]any)
		bob := results[1].(map[string]any)["invitation"].(map[string]any)
		if results[2].(map[string]any)["error"] != "missing @" {
			t.Errorf("invalid email result = %v", results[2])
		}

		// Re-invite refused.
		ev.want(ev.do("POST", org+"/invitations", key, map[string]any{"email": "ANA@example.com"}), 409, "already_invited")

		// Search.
		list := ev.want(ev.do("GET", org+"/invitations?q=ana&status=pending", key, nil), 200, "")
		if list["total"] != 1.0 {
			t.Fatalf("search total = %v", list["total"])
		}

		// The email carries the link; lookup does not consume it.
		msg := ev.deliver("ana@example.com")
		tok := tokenIn(t, msg["text"].(string))
		look := ev.want(ev.do("GET", "/api/v1/invitations/lookup?token="+tok, "", nil), 200, "")
		if look["status"] != "pending" || look["account_exists"] != false || look["email"] != "ana@example.com" {
			t.Fatalf("lookup = %v", look)
		}

		// Weak then good password; accepting again is refused.
		ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": tok, "password": "password1", "first_name": "Ana"}), 422, "weak_password")
		acc := ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": tok, "password": "a long passphrase", "first_name": "Ana"}), 200, "")
		if acc["status"] != "accepted" {
			t.Fatalf("accept = %v", acc)
		}
		ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": tok, "password": "a long passphrase"}), 409, "invitation_used")

		// The member, with the group.
		members := ev.want(ev.do("GET", org+"/members?include=pending", key, nil), 200, "")
		found := map[string]string{}
		for _, m := range members["data"].([]any) {
			m := m.(map[string]any)
			found[m["email"].(string)] = fmt.Sprintf("%v %v", m["status"], m["groups"])
		}
		if found["ana@example.com"] != "member [Neighborhood A]" || found["bob@example.com"] != "pending [Neighborhood A]" {
			t.Errorf("members = %v", found)
		}

		// Resend: the old link is superseded.
		bobTok := tokenIn(t, ev.deliver("bob@example.com")["text"].(string))
		res := ev.want(ev.do("POST", org+"/invitations/"+bob["id"].(string)+"/resend", key, nil), 200, "")
		if res["send_count"] != 2.0 || !strings.Contains(res["link"].(string), "/i/") {
			t.Errorf("resend = %v", res)
		}
		ev.want(ev.do("GET", "/api/v1/invitations/lookup?token="+bobTok, "", nil), 410, "invitation_superseded")

		// Revoke, and the link says so.
		ev.want(ev.do("POST", org+"/invitations/"+bob["id"].(string)+"/revoke", key, nil), 200, "")
		newTok := tokenIn(t, res["link"].(string))
		if got := ev.want(ev.do("GET", "/api/v1/invitations/lookup?token="+newTok, "", nil), 200, ""); got["status"] != "revoked" {
			t.Errorf("lookup revoked = %v", got["status"])
		}
		ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": newTok, "password": "a long passphrase", "first_name": "Bob"}), 410, "invitation_revoked")

		// Draft, then send.
		d := ev.want(ev.do("POST", org+"/invitations", key, map[string]any{"email": "cy@example.com", "draft": true}), 201, "")
		if d["status"] != "draft" || d["link"] != nil {
			t.Fatalf("draft = %v", d)
		}
		s := ev.want(ev.do("POST", org+"/invitations/"+d["id"].(string)+"/send", key, nil), 200, "")
		if s["status"] != "pending" || s["link"] == nil {
			t.Fatalf("send = %v", s)
		}

		// Idempotent create: the same key and body answer the first answer.
		body := map[string]any{"email": "dee@example.com"}
		first := ev.do("POST", org+"/invitations", key, body, "Idempotency-Key", "k1")
		again := ev.do("POST", org+"/invitations", key, body, "Idempotency-Key", "k1")
		if first.Status != 201 || again.Status != 201 || string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("idempotent replay: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
		}
		ev.want(ev.do("POST", org+"/invitations", key, map[string]any{"email": "eve@example.com"}, "Idempotency-Key", "k1"), 422, "idempotency_conflict")
		// The kept answer holds the link, so it is kept sealed: the
		// database alone reads neither the token nor the address.
		var kept string
		if err := ev.store.DB().QueryRow(`SELECT body FROM idempotency_keys WHERE key = 'k1'`).Scan(&kept); err != nil {
			t.Fatal(err)
		}
		if tok := tokenIn(t, string(first.Body)); strings.Contains(kept, tok) || strings.Contains(kept, "dee@example.com") {
			t.Errorf("the kept answer is readable: %s", kept)
		}
		// One that this instance's key cannot open (the key changed) is
		// refused, clearly, and nothing is done again.
		if _, err := ev.store.DB().Exec(`UPDATE idempotency_keys SET body = 'usher-sealed-v1:AAAA' WHERE key = 'k1'`); err != nil {
			t.Fatal(err)
		}
		ev.want(ev.do("POST", org+"/invitations", key, body, "Idempotency-Key", "k1"), 409, "conflict")

		// Approval on: accept waits, approve admits.
		ev.want(ev.do("PATCH", org+"/settings", key, map[string]any{"auto_approval": false}), 200, "")
		c := ev.want(ev.do("POST", org+"/invitations", key, map[string]any{"email": "fay@example.com", "first_name": "Fay"}), 201, "")
		ftok := tokenIn(t, c["link"].(string))
		acc = ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": ftok, "password": "a long passphrase"}), 200, "")
		if acc["status"] != "awaiting_approval" {
			t.Fatalf("accept with approval = %v", acc)
		}
		ev.want(ev.do("POST", org+"/invitations/"+c["id"].(string)+"/revoke", key, nil), 409, "invalid_transition")
		ap := ev.want(ev.do("POST", org+"/invitations/"+c["id"].(string)+"/approve", key, nil), 200, "")
		if ap["status"] != "accepted" || ap["decided_at"] == nil {
			t.Fatalf("approve = %v", ap)
		}
		events := ev.do("GET", org+"/invitations/"+c["id"].(string)+"/events", key, nil)
		if !strings.Contains(string(events.Body), `"type":"approved"`) {
			t.Errorf("events = %s", events.Body)
		}

		// Expiry is a fact of time.
		g := ev.want(ev.do("POST", org+"/invitations", key, map[string]any{"email": "gus@example.com", "expires_in": 3600}), 201, "")
		ev.clock.Advance(2 * time.Hour)
		got := ev.want(ev.do("GET", org+"/invitations/"+g["id"].(string), key, nil), 200, "")
		if got["status"] != "expired" {
			t.Errorf("status after expiry = %v", got["status"])
		}
		ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": tokenIn(t, g["link"].(string)), "password": "a long passphrase"}), 410, "invitation_expired")
	})
}

func TestAPIIsolationAndErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		other, err := ev.svc.CreateOrg(ev.ctx, "Other", "other", ev.owner.Email)
		if err != nil {
			t.Fatal(err)
		}
		otherKey, _, err := ev.svc.CreateAPIKey(ev.ctx, other.Slug, "", invite.System)
		if err != nil {
			t.Fatal(err)
		}
		inv := ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": "x@example.com"}), 201, "")
		id := inv["id"].(string)

		// Another organization's key sees nothing of acme: 404 as if missing.
		ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations/"+id, otherKey, nil), 404, "not_found")
		ev.want(ev.do("GET", "/api/v1/orgs/other/invitations/"+id, otherKey, nil), 404, "invitation_not_found")
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations/"+id+"/revoke", otherKey, nil), 404, "not_found")
		ev.want(ev.do("GET", "/api/v1/orgs/nope/invitations", ev.key, nil), 404, "not_found")

		// No or bad credentials.
		ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations", "", nil), 401, "unauthorized")
		ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations", "usk_wrong", nil), 401, "unauthorized")

		// Bad input: clear problems, nothing written.
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, `{"email": "y@example.com", "colour": "red"}`), 422, "validation_failed")
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, `{"email": `), 422, "validation_failed")
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, `{"email": "y@example.com", "admin": "yes"}`), 422, "validation_failed")
		for body, want := range map[string]string{
			`"y@example.com"`:                               "the body must hold one JSON object",
			`[{"email": "y@example.com"}]`:                  "the body must hold one JSON object",
			`{"email": 5}`:                                  "email must be a string",
			`{"email": "y@example.com", "admin": "yes"}`:    "admin must be true or false",
			`{"email": "y@example.com", "groups": "A"}`:     "groups must be an array",
			`{"email": "y@example.com", "expires_in": "1"}`: "expires_in must be a number",
		} {
			p := ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, body), 422, "validation_failed")
			if p["detail"] != want {
				t.Errorf("%s: detail %q, want %q", body, p["detail"], want)
			}
		}
		for _, body := range []string{`{"expires_at": "tomorrow"}`, `{"expires_at": "2026-13-01T00:00:00Z"}`, `{"expires_at": 5}`} {
			p := ev.want(ev.do("PATCH", "/api/v1/orgs/acme/invitations/"+id, ev.key, body), 422, "validation_failed")
			if !strings.Contains(fmt.Sprint(p["detail"]), "RFC 3339") {
				t.Errorf("%s: detail %q, want it to say how to write a time", body, p["detail"])
			}
		}
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": "not an email"}), 422, "invalid_email")
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": "y@example.com", "language": "xx-!!"}), 422, "validation_failed")
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": "y@example.com", "groups": []string{"Nope"}}), 422, "validation_failed")
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, `{"email":"`+strings.Repeat("a", 2<<20)+`"}`), 413, "payload_too_large")
		ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations?limit=9999", ev.key, nil), 422, "validation_failed")
		ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations?status=bogus", ev.key, nil), 422, "validation_failed")
		ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations?cursor=zzz", ev.key, nil), 422, "validation_failed")
		ev.want(ev.do("PATCH", "/api/v1/orgs/acme/settings", ev.key, map[string]any{"invitation_ttl": 60}), 422, "validation_failed")
		ev.want(ev.do("PATCH", "/api/v1/orgs/acme/settings", ev.key, map[string]any{"brand": 1}), 422, "validation_failed")
		list := ev.want(ev.do("GET", "/api/v1/orgs/acme/invitations", ev.key, nil), 200, "")
		if list["total"] != 1.0 {
			t.Errorf("bad requests wrote invitations: total %v", list["total"])
		}
		ev.want(ev.do("GET", "/api/v1/nothing-here", ev.key, nil), 404, "not_found")
		r := ev.do("PUT", "/api/v1/orgs/acme/invitations/"+id, ev.key, nil)
		ev.want(r, 405, "method_not_allowed")
		if got := r.Header.Get("Allow"); got != "GET, PATCH" {
			t.Errorf("Allow = %q, want GET, PATCH", got)
		}
	})
}

func TestAPIPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		var emails []string
		for i := range 23 {
			emails = append(emails, fmt.Sprintf("p%02d@example.com", i))
		}
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations/batch", ev.key, map[string]any{"emails": emails}), 200, "")
		for _, sort := range []string{"email", "-email", "created_at", "-created_at", "expires_at"} {
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				path := "/api/v1/orgs/acme/invitations?limit=5&sort=" + sort
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				page := ev.want(ev.do("GET", path, ev.key, nil), 200, "")
				pages++
				if page["total"] != 23.0 {
					t.Fatalf("total = %v", page["total"])
				}
				for _, d := range page["data"].([]any) {
					email := d.(map[string]any)["email"].(string)
					if seen[email] {
						t.Fatalf("sort %s: %s seen twice", sort, email)
					}
					seen[email] = true
				}
				next, _ := page["next_cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != 23 || pages != 5 {
				t.Errorf("sort %s: %d invitations over %d pages, want 23 over 5", sort, len(seen), pages)
			}
		}
	})
}

// TestAPIInviteRateLimit: past the organization's hourly allowance, a
// create answers 429 rate_limited, as the OpenAPI document says.
func TestAPIInviteRateLimit(t *testing.T) {
	ev := newEnv(t, storetest.Engines()[0])
	validateOpenAPI(t, ev)
	ev.svc.SetInvitesPerHour(2)
	for _, email := range []string{"a@example.com", "b@example.com"} {
		ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": email}), http.StatusCreated, "")
	}
	p := ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations", ev.key, map[string]any{"email": "c@example.com"}), http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(fmt.Sprint(p["detail"]), "2 people per hour") {
		t.Errorf("detail %q", p["detail"])
	}
	ev.want(ev.do("POST", "/api/v1/orgs/acme/invitations/batch", ev.key, map[string]any{"emails": []string{"d@example.com"}}),
		http.StatusTooManyRequests, "rate_limited")
}

// TestAPISecretsNotReplayed: making an API key or a webhook ignores
// Idempotency-Key, so the secret it answers is never kept for a replay.
func TestAPISecretsNotReplayed(t *testing.T) {
	ev := newEnv(t, storetest.Engines()[0])
	for _, c := range []struct{ path, field string }{{"/api/v1/orgs/acme/api-keys", "key"}, {"/api/v1/orgs/acme/webhooks", "secret"}} {
		body := map[string]any{"name": "n"}
		if c.field == "secret" {
			body = map[string]any{"url": "https://crm.example.com/hook"}
		}
		a := ev.want(ev.do("POST", c.path, ev.key, body, "Idempotency-Key", "same"), http.StatusCreated, "")
		b := ev.want(ev.do("POST", c.path, ev.key, body, "Idempotency-Key", "same"), http.StatusCreated, "")
		if a[c.field] == b[c.field] || a["id"] == b["id"] {
			t.Errorf("%s: the same Idempotency-Key answered the same secret", c.path)
		}
	}
	var kept int
	if err := ev.store.DB().QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&kept); err != nil || kept != 0 {
		t.Errorf("%d answers kept for replay (%v), want none", kept, err)
	}
}

// TestMetricsRoutes: a request's latency is recorded under the route's
// pattern, also when it was refused before reaching the route (a
// cross-origin POST) or matched none, and never under its raw path
// (tokens travel in paths).
func TestMetricsRoutes(t *testing.T) {
	ev := newEnv(t, storetest.Engines()[0])
	reg := prometheus.NewRegistry()
	h := web.NewServer(web.Deps{Service: ev.svc, Store: ev.store, Registry: reg, Metrics: web.NewMetrics(reg),
		Config: web.Config{BaseURL: ev.srv.URL}})
	serve := func(method, path, body string, headers ...string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	auth := "Bearer " + ev.key
	if c := serve("POST", "/api/v1/orgs/acme/invitations", `{"email":"m@x.test"}`, "Authorization", auth); c != 201 {
		t.Fatalf("create: %d", c)
	}
	if c := serve("GET", "/api/v1/orgs/acme/invitations/nope", "", "Authorization", auth); c != 404 {
		t.Fatalf("get: %d", c)
	}
	if c := serve("POST", "/api/v1/orgs/acme/groups", `{"name":"g"}`, "Sec-Fetch-Site", "cross-site"); c != 403 {
		t.Fatalf("cross-origin: %d", c)
	}
	if c := serve("DELETE", "/api/v1/invitations/accept-secret-token", ""); c != 404 && c != 405 {
		t.Fatalf("unrouted: %d", c)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "usher_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["route"]+" "+labels["code"]] = true
		}
	}
	for _, want := range []string{"POST /api/v1/orgs/{org}/invitations 201", "GET /api/v1/orgs/{org}/invitations/{id} 404",
		"POST /api/v1/orgs/{org}/groups 403"} {
		if !got[want] {
			t.Errorf("no latency recorded for %q; recorded: %v", want, got)
		}
	}
	for k := range got {
		if strings.Contains(k, "secret-token") {
			t.Errorf("a raw path was recorded: %q", k)
		}
	}
	if len(got) != 4 {
		t.Errorf("recorded %v, want 4 series", got)
	}
}
