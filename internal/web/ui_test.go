package web_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// browser is a cookie-keeping HTTP client that does not follow
// redirects, so tests see each 303.
type browser struct {
	ev     *env
	client *http.Client
}

func (ev *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{ev: ev, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, headers ...string) (int, http.Header, string) {
	b.ev.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.ev.ctx, method, b.ev.srv.URL+path, body)
	if err != nil {
		b.ev.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.ev.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(out)
}

func (b *browser) get(path string) (int, string) {
	b.ev.t.Helper()
	st, _, body := b.do("GET", path, nil)
	return st, body
}

func (b *browser) post(path string, form url.Values) (int, http.Header, string) {
	b.ev.t.Helper()
	return b.do("POST", path, form)
}

func (b *browser) signIn(email, password string) {
	b.ev.t.Helper()
	st, h, body := b.post("/admin/signin", url.Values{"email": {email}, "password": {password}, "next": {"/admin/"}})
	if st != http.StatusSeeOther {
		b.ev.t.Fatalf("sign in as %s: status %d, want 303; %s", email, st, body)
	}
	_ = h
}

// invite invites email into acme as the owner and returns its token.
func (ev *env) invite(email string, opt invite.Options) (*invite.Created, string) {
	ev.t.Helper()
	c, err := ev.svc.Invite(ev.ctx, invite.Actor{UserID: ev.owner.ID, Email: ev.owner.Email}, "acme", email, opt)
	if err != nil {
		ev.t.Fatalf("Invite(%q) = %v", email, err)
	}
	return c, c.Link[strings.LastIndex(c.Link, "/")+1:]
}

func TestPagesEscapeUserText(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	_, token := ev.invite("ana@example.com", invite.Options{FirstName: "<script>alert(1)</script>",
		Message: "Hi <b>there</b>\n\"quoted\" & 'single'"})
	b := ev.browser()
	st, body := b.get("/i/" + token)
	if st != http.StatusOK {
		t.Fatalf("GET /i/token = %d, want 200", st)
	}
	for _, bad := range []string{"<script>alert(1)", "<b>there</b>"} {
		if strings.Contains(body, bad) {
			t.Errorf("invitee page contains %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "Hi &lt;b&gt;there&lt;/b&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("invitee page lacks escaped %q", want)
		}
	}
	b.signIn("boss@acme.test", "correct horse battery")
	_, body = b.get("/admin/orgs/acme/invitations")
	if strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("invitations list does not escape the name")
	}
}

func TestPagesRefuseCrossOriginPosts(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	_, token := ev.invite("ana@example.com", invite.Options{})
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	for _, path := range []string{"/admin/orgs/acme/invite", "/admin/signin", "/i/" + token + "/decline", "/admin/orgs/acme/groups"} {
		form := url.Values{"emails": {"x@example.com"}, "name": {"Evil"}, "email": {"boss@acme.test"}, "password": {"correct horse battery"}}
		st, _, _ := b.do("POST", path, form, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if st != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, st)
		}
	}
	// Nothing changed: the invitation is still pending, no group was made.
	info, err := ev.svc.Lookup(ev.ctx, token)
	if err != nil || info.Status != invite.StatusPending {
		t.Fatalf("after cross-site decline: %v, %v; want pending", info, err)
	}
	groups, _ := ev.svc.Groups(ev.ctx, invite.Actor{UserID: ev.owner.ID}, "acme")
	if len(groups) != 1 {
		t.Errorf("groups = %d, want 1", len(groups))
	}
	// The same POST from the site itself works.
	st, _, _ := b.do("POST", "/admin/orgs/acme/groups", url.Values{"name": {"Friends"}}, "Origin", ev.srv.URL, "Sec-Fetch-Site", "same-origin")
	if st != http.StatusSeeOther {
		t.Errorf("same-origin POST = %d, want 303", st)
	}
}

func TestInviteWithoutPermissionIsForbidden(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	_, token := ev.invite("member@acme.test", invite.Options{})
	if _, err := ev.svc.Accept(ev.ctx, token, invite.Registration{Password: "plain member password", FirstName: "Mem"}); err != nil {
		t.Fatal(err)
	}
	b := ev.browser()
	b.signIn("member@acme.test", "plain member password")
	st, body := b.get("/admin/orgs/acme/members")
	if st != http.StatusOK {
		t.Fatalf("members as member = %d", st)
	}
	if strings.Contains(body, `id="invite-button"`) || strings.Contains(body, "/admin/orgs/acme/invite\"") {
		t.Errorf("a member without invitations.create sees an invite button")
	}
	if strings.Contains(body, "Invited, not joined yet") || !strings.Contains(body, "member@acme.test") {
		t.Errorf("a member who may not see invitations sees who is invited, or not the members")
	}
	st, _, _ = b.post("/admin/orgs/acme/invite", url.Values{"emails": {"new@example.com"}})
	if st != http.StatusForbidden {
		t.Errorf("POST invite as member = %d, want 403", st)
	}
	if st, _ := b.get("/admin/orgs/acme/invite"); st != http.StatusForbidden {
		t.Errorf("GET invite as member = %d, want 403", st)
	}
	page, err := ev.svc.List(ev.ctx, invite.Actor{UserID: ev.owner.ID}, "acme", invite.ListFilter{Query: "new@example.com", Limit: 10})
	if err != nil || page.Total != 0 {
		t.Errorf("the refused invite made an invitation: %v, %v", page, err)
	}
}

func TestExportNeutralizesFormulas(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	ev.invite("eve@example.com", invite.Options{FirstName: "=HYPERLINK(\"http://x\")", LastName: "+1", Message: "m"})
	ev.invite("bob@example.com", invite.Options{FirstName: "@SUM(A1)", LastName: "-2"})
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	st, h, body := b.do("GET", "/admin/orgs/acme/invitations.csv", nil)
	if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("export = %d %s", st, h.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("rows = %d, want header + 2", len(rows))
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts with a formula character", cell)
			}
		}
	}
	if !strings.Contains(body, `'=HYPERLINK`) || !strings.Contains(body, "'@SUM") || !strings.Contains(body, "'+1") {
		t.Errorf("export does not prefix formulas with a quote:\n%s", body)
	}
}

func TestInviteePageGetDoesNotConsume(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	_, token := ev.invite("ana@example.com", invite.Options{})
	b := ev.browser()
	for range 3 {
		if st, body := b.get("/i/" + token); st != http.StatusOK || !strings.Contains(body, "Create your account") {
			t.Fatalf("GET /i/token = %d; body lacks the registration form", st)
		}
	}
	st, h, body := b.post("/i/"+token+"/accept", url.Values{"mode": {"register"}, "first_name": {"Ana"},
		"password": {"a long enough passphrase"}, "password_confirm": {"a long enough passphrase"}})
	if st != http.StatusSeeOther {
		t.Fatalf("accept = %d; %s", st, body)
	}
	if _, body := b.get(h.Get("Location")); !strings.Contains(body, "You&#39;re in") && !strings.Contains(body, "You're in") {
		t.Errorf("after accepting, the page does not say you're in")
	}
	if _, body := ev.browser().get("/i/" + token); !strings.Contains(body, "already been used") {
		t.Errorf("another browser does not see the link as used")
	}
	if _, body := b.get("/i/" + strings.Repeat("A", 43)); !strings.Contains(body, "not valid") {
		t.Errorf("an unknown token does not say the link is not valid")
	}
}

func TestSignedInInviteeAcceptsWithOneClick(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	if _, err := ev.svc.CreateUser(ev.ctx, "fay@example.com", "fay's long password", false); err != nil {
		t.Fatal(err)
	}
	_, token := ev.invite("fay@example.com", invite.Options{Groups: []string{"Neighborhood A"}})
	b := ev.browser()
	b.signIn("fay@example.com", "fay's long password")
	if _, body := b.get("/i/" + token); !strings.Contains(body, "Accept the invitation") || strings.Contains(body, `name="password"`) {
		t.Fatalf("a signed-in invitee is not offered a one-click accept")
	}
	st, h, _ := b.post("/i/"+token+"/accept", url.Values{"mode": {"oneclick"}})
	if st != http.StatusSeeOther {
		t.Fatalf("one-click accept = %d", st)
	}
	if _, body := b.get(h.Get("Location")); !strings.Contains(body, `id="in"`) {
		t.Errorf("after one click the page does not say you're in")
	}
}

// TestMembersPendingCapped: past the first 500 open invitations, the
// Members page says it shows only those.
func TestMembersPendingCapped(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	owner := invite.Actor{UserID: ev.owner.ID, Email: ev.owner.Email}
	emails := make([]string, invite.MaxPendingMembers)
	for i := range emails {
		emails[i] = fmt.Sprintf("p%03d@example.com", i)
	}
	if _, err := ev.svc.InviteMany(ev.ctx, owner, "acme", emails[:10], invite.Options{NoEmail: true}, false); err != nil {
		t.Fatal(err)
	}
	if _, body := b.get("/admin/orgs/acme/members"); strings.Contains(body, "pending-capped") {
		t.Error("10 open invitations said to be capped")
	}
	if _, err := ev.svc.InviteMany(ev.ctx, owner, "acme", emails[10:], invite.Options{NoEmail: true}, false); err != nil {
		t.Fatal(err)
	}
	if _, body := b.get("/admin/orgs/acme/members"); !strings.Contains(body, "pending-capped") {
		t.Errorf("%d open invitations not said to be capped", len(emails))
	}
}

// TestNavAPIKeysNeedEverything: a role with settings.manage alone sees
// the settings pages but not API keys, which it may not manage.
func TestNavAPIKeysNeedEverything(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	owner := invite.Actor{UserID: ev.owner.ID, Email: ev.owner.Email}
	if _, err := ev.svc.CreateRole(ev.ctx, owner, "acme", "settings", []account.Permission{account.PermManageSettings}); err != nil {
		t.Fatal(err)
	}
	_, token := ev.invite("sam@acme.test", invite.Options{Role: "settings"})
	if _, err := ev.svc.Accept(ev.ctx, token, invite.Registration{Password: "settings person password", FirstName: "Sam"}); err != nil {
		t.Fatal(err)
	}
	b := ev.browser()
	b.signIn("sam@acme.test", "settings person password")
	_, body := b.get("/admin/orgs/acme/members")
	if !strings.Contains(body, "/admin/orgs/acme/webhooks") || strings.Contains(body, "/admin/orgs/acme/api-keys") {
		t.Error("a settings-only role's menu: want Webhooks and not API keys")
	}
	if st, _ := b.get("/admin/orgs/acme/api-keys"); st != http.StatusForbidden {
		t.Errorf("API keys page for a settings-only role = %d, want 403", st)
	}
	b2 := ev.browser()
	b2.signIn("boss@acme.test", "correct horse battery")
	if _, body := b2.get("/admin/orgs/acme/members"); !strings.Contains(body, "/admin/orgs/acme/api-keys") {
		t.Error("the owner's menu has no API keys")
	}
}

// TestConsoleGivesOnlyWhatYouHold: in the console, a role that may
// invite and manage members but holds less than an administrator is told,
// beside the choice, that admin is not theirs to give, keeps what was
// typed, and changes nothing.
func TestConsoleGivesOnlyWhatYouHold(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	owner := invite.Actor{UserID: ev.owner.ID, Email: ev.owner.Email}
	if _, err := ev.svc.CreateRole(ev.ctx, owner, "acme", "lead", []account.Permission{account.PermInvite, account.PermManageMembers}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ email, role string }{{"lee@acme.test", "lead"}, {"mo@acme.test", ""}} {
		_, token := ev.invite(p.email, invite.Options{Role: p.role})
		if _, err := ev.svc.Accept(ev.ctx, token, invite.Registration{Password: "a long enough password", FirstName: "X"}); err != nil {
			t.Fatal(err)
		}
	}
	b := ev.browser()
	b.signIn("lee@acme.test", "a long enough password")
	st, _, body := b.post("/admin/orgs/acme/invite", url.Values{"emails": {"new@example.com"}, "role": {"admin"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "is not yours to give") || !strings.Contains(body, "new@example.com") {
		t.Errorf("inviting as admin = %d; want 422 saying so, with the address kept:\n%s", st, body)
	}
	members, _, err := ev.svc.Members(ev.ctx, owner, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	var mo string
	for _, m := range members {
		if m.User.Email == "mo@acme.test" {
			mo = m.UserID
		}
	}
	st, h, _ := b.post("/admin/orgs/acme/members/"+mo, url.Values{"role": {"admin"}})
	if st != http.StatusSeeOther {
		t.Fatalf("making mo admin = %d, want a redirect back with the reason", st)
	}
	if _, body := b.get(h.Get("Location")); !strings.Contains(body, "is not yours to give") {
		t.Error("the members page does not say why mo was not made admin")
	}
	if members, _, err = ev.svc.Members(ev.ctx, owner, "acme", false); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.User.Email == "mo@acme.test" && m.Role != account.RoleMember {
			t.Errorf("mo's role became %q", m.Role)
		}
	}
	page, err := ev.svc.List(ev.ctx, owner, "acme", invite.ListFilter{Query: "new@example.com", Limit: 10})
	if err != nil || page.Total != 0 {
		t.Errorf("the refused invite made an invitation: %v, %v", page, err)
	}
}
