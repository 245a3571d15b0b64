package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestBrowserWebhooks: an admin adds an endpoint and sees its secret once,
// follows what was delivered to it, and deletes it.
func TestBrowserWebhooks(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	var mu sync.Mutex
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)

	p := j.person("admin")
	p.signInAdmin()
	p.open("/admin/orgs/acme/webhooks", "#url")
	p.wantText("main", "No endpoints yet")
	p.shot("no-endpoints")

	p.typeIn("#url", "not a url")
	p.setJS(`document.querySelector("#url").type = "text"`) // past the browser's own check
	p.click(`form[action$="/webhooks"] button[type=submit]`, ".notice.bad")
	p.wantText(".notice.bad", "absolute http or https URL")
	p.shot("bad-url")

	p.typeIn("#url", rcv.URL+"/usher")
	p.typeIn("#description", "CRM <sync>")
	p.click(`form[action$="/webhooks"] button[type=submit]`, "#webhook-secret")
	secret := p.value("#secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown = %q", secret)
	}
	p.wantText("#webhooks", "CRM <sync>")
	p.shot("secret-shown-once")
	p.open("/admin/orgs/acme/webhooks", "#webhooks")
	if strings.Contains(p.text("main"), secret) {
		t.Error("the secret is shown again")
	}

	owner := invite.Actor{UserID: j.owner.ID, Email: j.owner.Email}
	if _, err := j.svc.Invite(j.ctx, owner, "acme", "hooked@example.com", invite.Options{}); err != nil {
		t.Fatal(err)
	}
	if n, err := j.runner.DeliverHooksOnce(j.ctx); err != nil || n != 1 {
		t.Fatalf("DeliverHooksOnce = %d, %v; want 1", n, err)
	}
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0], `"invitation.created"`) {
		t.Errorf("the endpoint got %q", got)
	}
	mu.Unlock()

	p.click(`#webhooks a`, "#messages")
	p.wantText("#messages", "invitation.created")
	p.wantText("#messages", "hooked@example.com")
	p.wantText("#messages", "delivered")
	p.wantText("#messages", "HTTP 204")
	p.shot("messages")

	p.open("/admin/orgs/acme/webhooks", "#webhooks")
	p.clickConfirmed(`#webhooks button.danger`, ".flash.ok")
	p.wantText("main", "No endpoints yet")
	p.shot("deleted")
}

// TestBrowserAPIKeys: an admin makes a key and sees it once, the key
// works, and revoked it stops working.
func TestBrowserAPIKeys(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	p := j.person("admin")
	p.signInAdmin()
	p.open("/admin/orgs/acme/api-keys", "#name")
	p.wantText("#api-keys", "usk_") // the test's own key, by its first characters
	p.typeIn("#name", "CRM <sync>")
	p.click(`form[action$="/api-keys"] button[type=submit]`, "#new-key")
	key := p.value("#key")
	if !strings.HasPrefix(key, "usk_") {
		t.Fatalf("key shown = %q", key)
	}
	p.wantText("#api-keys", "CRM <sync>")
	p.wantText("#api-keys", "boss@acme.test")
	p.shot("key-shown-once")
	if r := j.do("GET", "/api/v1/orgs/acme/invitations", key, nil); r.Status != http.StatusOK {
		t.Fatalf("the new key: %d %s", r.Status, r.Body)
	}
	p.open("/admin/orgs/acme/api-keys", "#api-keys")
	if strings.Contains(p.text("main"), key) {
		t.Error("the key is shown again")
	}
	p.clickConfirmed(`#api-keys tr:last-child button.danger`, ".flash.ok")
	p.shot("revoked")
	if strings.Contains(p.text("#api-keys"), "CRM <sync>") {
		t.Error("the revoked key is still listed")
	}
	if r := j.do("GET", "/api/v1/orgs/acme/invitations", key, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("the revoked key: %d, want 401", r.Status)
	}
}

// TestBrowserSetup: on a fresh usher, the setup link makes the first
// admin and their organization, and signs them in.
func TestBrowserSetup(t *testing.T) {
	t.Parallel()
	const token = "setup-token-0123456789abcdefghijklmnopqrstu"
	j := newJourneyOn(t, newEnvWith(t, storetest.Engines()[0], envOptions{empty: true, setupToken: token}))
	p := j.person("operator")
	p.open("/setup/"+token, "#setup")
	p.shot("setup-form")
	p.typeIn("#email", "boss@acme.test")
	p.typeIn("#password", "password1")
	p.typeIn("#password_confirm", "password1")
	p.typeIn("#org", "Acme Corp")
	p.click("#setup", ".field-error")
	p.wantText("main", "not a commonly used password")
	p.shot("common-password-refused")
	p.typeIn("#password", "a long passphrase")
	p.typeIn("#password_confirm", "a long passphrase")
	p.click("#setup", `body[data-page="admin_invitations"]`)
	p.wantText("header", "boss@acme.test")
	p.shot("signed-in")
	p.open("/setup/"+token, "main")
	p.wantText("main", "does not work")
}

// TestBrowserRoles: an admin adds a role with some permissions, offers it
// when inviting, and deletes it.
func TestBrowserRoles(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	p := j.person("admin")
	p.signInAdmin()
	p.open("/admin/orgs/acme/roles", "#roles")
	p.wantText("#roles", "built in")
	p.typeIn("#name", "inviter")
	p.click(`input[value="invitations.create"]`, "#add-role")
	p.click("#add-role", ".flash.ok")
	p.wantText("#roles", "inviter")
	p.wantText("#roles", "invitations.create")
	p.shot("role-added")
	p.open("/admin/orgs/acme/invite", "#role")
	p.wantText("#role", "inviter")
	p.open("/admin/orgs/acme/roles", "#roles")
	p.clickConfirmed(`#roles button.danger`, ".flash.ok")
	if strings.Contains(p.text("#roles"), "inviter") {
		t.Error("the deleted role is still listed")
	}
	p.shot("role-deleted")
}

// TestBrowserAvailabilityAsTyped: typing one address says whether it is
// free and proposes a username; a typed username is checked instead.
func TestBrowserAvailabilityAsTyped(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	j.invite("ana@example.com", invite.Options{})
	p := j.person("admin")
	p.signInAdmin()
	p.open("/admin/orgs/acme/invite", "#emails")
	p.setJS(`document.querySelector("#emails").value = ""`)
	p.do("type an address", chromedp.SendKeys(chromedp.CSS("#emails"), "Jürgen.Müller@example.com"))
	p.waitJS("wait for the check", `document.querySelector("#availability-live").textContent.includes("free to invite")`)
	if user := p.value("#username"); user != "jurgen.muller" {
		t.Errorf("proposed username = %q", user)
	}
	p.shot("free-address")
	p.typeIn("#username", "boss")
	p.waitJS("wait for the username check", `document.querySelector("#availability-live").textContent.includes("boss: taken")`)
	p.setJS(`document.querySelector("#emails").value = ""`)
	p.do("type an invited address", chromedp.SendKeys(chromedp.CSS("#emails"), "ana@example.com"))
	p.waitJS("wait for the second check", `document.querySelector("#availability-live").textContent.includes("already has an open invitation")`)
	p.shot("invited-address")

	// With several addresses, the proposal goes (it is for one), and the
	// invitations go out.
	p.setJS(`document.querySelector("#username").value = ""`)
	p.setJS(`document.querySelector("#emails").value = ""`)
	p.do("type one address", chromedp.SendKeys(chromedp.CSS("#emails"), "cleo@example.com"))
	p.waitJS("wait for the proposal", `document.querySelector("#username").value === "cleo"`)
	p.do("type a second address", chromedp.SendKeys(chromedp.CSS("#emails"), ", dan@example.com"))
	p.waitJS("wait for the proposal to go", `document.querySelector("#username").value === ""`)
	p.click("#send-invitations", "#results")
	p.wantText("#results", "dan@example.com")
}

// waitJS waits until the JavaScript expression expr is true.
func (p *person) waitJS(what, expr string) {
	p.j.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](expr)); err != nil {
		p.shot("failed-" + what)
		p.j.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// setJS runs the JavaScript statement js in the page.
func (p *person) setJS(js string) {
	p.j.t.Helper()
	p.do("run "+js, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("("+js+", true)")(ctx, t)
		return err
	}))
}

// TestBrowserProfile: a member fills in their profile; an administrator
// opens it from Members and marks it verified.
func TestBrowserProfile(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	_, tok := j.invite("ana@example.com", invite.Options{})
	if _, err := j.svc.Accept(j.ctx, tok, invite.Registration{Password: "a long enough passphrase", FirstName: "Ana"}); err != nil {
		t.Fatal(err)
	}
	ana := j.person("ana")
	ana.open("/admin/signin", "#signin")
	ana.typeIn("#email", "ana@example.com")
	ana.typeIn("#password", "a long enough passphrase")
	ana.click("#signin", `body[data-page="admin_members"]`)
	ana.open("/admin/orgs/acme/profile", "#phone")
	ana.wantText(".pagehead", "not filled in")
	ana.typeIn("#phone", "phone me")
	ana.click("#save-profile", ".field-error")
	ana.wantText(".field-error", "digits")
	ana.typeIn("#phone", "+32 470 12 34 56")
	ana.typeIn("#job_title", "Nurse <head>")
	ana.click("#save-profile", ".flash.ok")
	ana.wantText(".pagehead", "not verified")
	ana.shot("filled-in")

	admin := j.person("admin")
	admin.signInAdmin()
	admin.open("/admin/orgs/acme/members", "#members")
	admin.click(`a[href$="/profile"][href*="/members/"]:not([href*="`+j.owner.ID+`"])`, "#verify-profile")
	if v := admin.value("#job_title"); v != "Nurse <head>" {
		t.Errorf("job title shown = %q", v)
	}
	admin.click("#verify-profile", "#verified")
	admin.shot("verified")
}

// value returns the value of the input sel.
func (p *person) value(sel string) string {
	p.j.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).value`, sel)))
	if err != nil {
		p.j.t.Fatalf("%s: value of %s: %v", p.name, sel, err)
	}
	return v
}

// clickConfirmed clicks a button that asks for confirmation, saying yes.
func (p *person) clickConfirmed(button, waitFor string) {
	p.j.t.Helper()
	p.setJS(`window.confirm = () => true`)
	p.click(button, waitFor)
}
