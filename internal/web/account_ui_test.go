package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// outbox lists the queued emails of kind: recipient and data.
func (ev *env) outbox(kind string) (to []string, data []map[string]string) {
	ev.t.Helper()
	rows, err := ev.store.DB().QueryContext(ev.ctx, `SELECT recipient, data FROM outbox WHERE kind = $1 ORDER BY created_at, id`, kind)
	if err != nil {
		ev.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r, d string
		if err := rows.Scan(&r, &d); err != nil {
			ev.t.Fatal(err)
		}
		m := map[string]string{}
		json.Unmarshal([]byte(d), &m)
		to, data = append(to, r), append(data, m)
	}
	return to, data
}

// resetPath is the path of the newest reset link mailed to email.
func (ev *env) resetPath(email string) string {
	ev.t.Helper()
	to, data := ev.outbox(invite.MailPasswordReset)
	for i := len(to) - 1; i >= 0; i-- {
		if to[i] == email {
			link, _, err := ev.svc.PasswordResetLink(ev.ctx, data[i]["reset_id"])
			if err != nil {
				ev.t.Fatalf("PasswordResetLink: %v", err)
			}
			return strings.TrimPrefix(link, ev.srv.URL)
		}
	}
	ev.t.Fatalf("no password reset email to %s", email)
	return ""
}

func TestForgotPasswordRevealsNothingAndResets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) { testForgotPasswordRevealsNothingAndResets(t, e) })
}

func testForgotPasswordRevealsNothingAndResets(t *testing.T, e storetest.Engine) {
	ev := newEnv(t, e)
	b := ev.browser()
	_, _, known := b.post("/forgot", url.Values{"email": {"boss@acme.test"}})
	_, _, unknown := b.post("/forgot", url.Values{"email": {"nobody@acme.test"}})
	if strings.ReplaceAll(known, "boss@acme.test", "X") != strings.ReplaceAll(unknown, "nobody@acme.test", "X") {
		t.Errorf("the forgot page answers differently for a known and an unknown address")
	}
	if to, _ := ev.outbox(invite.MailPasswordReset); len(to) != 1 || to[0] != "boss@acme.test" {
		t.Fatalf("reset emails to %v, want one to boss@acme.test", to)
	}
	path := ev.resetPath("boss@acme.test")
	if st, body := b.get(path); st != http.StatusOK || !strings.Contains(body, "Choose a new password") {
		t.Fatalf("GET %s = %d", path, st)
	}
	st, _, body := b.post(path, url.Values{"password": {"short"}, "password_confirm": {"short"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "8 to 128 characters") {
		t.Errorf("weak reset = %d, want 422 with the policy", st)
	}
	st, h, _ := b.post(path, url.Values{"password": {"a brand new passphrase"}, "password_confirm": {"a brand new passphrase"}})
	if st != http.StatusSeeOther || h.Get("Location") != "/admin/" {
		t.Fatalf("reset = %d %s, want 303 to /admin/", st, h.Get("Location"))
	}
	if _, err := ev.svc.SignIn(ev.ctx, "boss@acme.test", "a brand new passphrase"); err != nil {
		t.Errorf("SignIn with the new password = %v", err)
	}
	if st, _ := b.get(path); st != http.StatusNotFound {
		t.Errorf("a used reset link answers %d, want 404", st)
	}
}

func TestSignUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) { testSignUp(t, e) })
}

func testSignUp(t *testing.T, e storetest.Engine) {
	ev := newEnv(t, e)
	b := ev.browser()
	if st, _ := b.get("/signup"); st != http.StatusNotFound {
		t.Fatalf("GET /signup on an invite-only instance = %d, want 404", st)
	}
	ev.svc.SetOpenSignup(true)
	_, _, fresh := b.post("/signup", url.Values{"email": {"new@example.com"}, "first_name": {"Nia"}})
	_, _, existing := b.post("/signup", url.Values{"email": {"boss@acme.test"}, "first_name": {"Nia"}})
	if strings.ReplaceAll(fresh, "new@example.com", "X") != strings.ReplaceAll(existing, "boss@acme.test", "X") {
		t.Errorf("sign-up answers differently for a new address and one with an account")
	}
	path := ev.resetPath("new@example.com")
	if _, body := b.get(path); !strings.Contains(body, "Finish creating your account") {
		t.Errorf("the sign-up link does not offer to create the account")
	}
	st, _, _ := b.post(path, url.Values{"password": {"a brand new passphrase"}, "password_confirm": {"a brand new passphrase"}})
	if st != http.StatusSeeOther {
		t.Fatalf("completing the sign-up = %d, want 303", st)
	}
	u, err := ev.svc.SignIn(ev.ctx, "new@example.com", "a brand new passphrase")
	if err != nil || u.FirstName != "Nia" {
		t.Fatalf("SignIn after sign-up = %v, %v", u, err)
	}

	// An address with a live invitation is sent to its invitation.
	ev.invite("invited@example.com", invite.Options{})
	before, _ := ev.outbox(invite.MailInvitation)
	_, _, body := b.post("/signup", url.Values{"email": {"invited@example.com"}, "first_name": {"Ivo"}})
	if !strings.Contains(body, "already has an invitation waiting") || !strings.Contains(body, "Acme") {
		t.Errorf("sign-up of an invited address does not point to the invitation")
	}
	if after, _ := ev.outbox(invite.MailInvitation); len(after) != len(before)+1 {
		t.Errorf("invitation emails %d → %d, want one more", len(before), len(after))
	}
}

func TestExpiredLinkAsksInviterOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) { testExpiredLinkAsksInviterOnce(t, e) })
}

func testExpiredLinkAsksInviterOnce(t *testing.T, e storetest.Engine) {
	ev := newEnv(t, e)
	c, token := ev.invite("late@example.com", invite.Options{})
	ev.clock.Advance(8 * 24 * time.Hour)
	b := ev.browser()
	if _, body := b.get("/i/" + token); !strings.Contains(body, `id="dead-expired"`) || !strings.Contains(body, "Ask boss@acme.test") {
		t.Fatalf("an expired link does not offer to ask the inviter")
	}
	st, h, _ := b.post("/i/"+token+"/request-link", url.Values{})
	if st != http.StatusSeeOther {
		t.Fatalf("request-link = %d", st)
	}
	if _, body := b.get(h.Get("Location")); !strings.Contains(body, "We asked boss@acme.test") {
		t.Errorf("no confirmation after asking for a new link")
	}
	b.post("/i/"+token+"/request-link", url.Values{})
	if _, body := b.get("/i/" + token); !strings.Contains(body, "already requested today") {
		t.Errorf("a second request the same day is not refused")
	}
	if to, _ := ev.outbox(invite.MailLinkRequested); len(to) != 1 || to[0] != "boss@acme.test" {
		t.Errorf("link_requested emails to %v, want one to boss@acme.test", to)
	}
	events, err := ev.svc.Events(ev.ctx, invite.Actor{UserID: ev.owner.ID}, "acme", c.Invitation.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Type == "link_requested" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("link_requested events = %d, want 1", n)
	}
}
