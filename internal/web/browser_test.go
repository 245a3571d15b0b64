package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/mail"
	"usher/internal/sqlstore/storetest"
)

// The browser tests drive headless Chromium through the pages: one browser
// for the whole test binary, one isolated browser context (own cookies)
// per person in a journey. Every step leaves a full-page screenshot in
// test-artifacts/ at the repository root.

const chromiumPath = "/usr/bin/chromium"

var shared struct {
	once    sync.Once
	browser context.Context
	cancel  func()
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

// sharedBrowser starts Chromium once; without it the test is skipped, or
// fails under CI.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: the browser tests need Chromium (scripts/test.sh installs it)", chromiumPath)
		}
		t.Skipf("%s is missing; install chromium to run the browser tests", chromiumPath)
	}
	shared.once.Do(func() {
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900),
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		browser, cancelBrowser := chromedp.NewContext(alloc)
		shared.err = chromedp.Do(browser) // starts the browser
		shared.browser = browser
		shared.cancel = func() { cancelBrowser(); cancelAlloc() }
	})
	if shared.err != nil {
		t.Fatalf("start chromium: %v", shared.err)
	}
	return shared.browser
}

// journey is one browser test: a server, its mail worker, and the people
// who take part, each in a browser context of their own.
type journey struct {
	*env
	runner *job.Runner
	name   string
	step   int
	dir    string
}

func newJourney(t *testing.T) *journey {
	t.Helper()
	sharedBrowser(t)
	return newJourneyOn(t, newEnv(t, storetest.Engines()[0]))
}

// newJourneyOn is newJourney on ev.
func newJourneyOn(t *testing.T, ev *env) *journey {
	t.Helper()
	sharedBrowser(t)
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, strings.TrimPrefix(t.Name(), "TestBrowser")+"-*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return &journey{env: ev, runner: job.New(job.Config{HookPrivate: true}, ev.store, ev.svc, renderer, nil, nil),
		name: strings.TrimPrefix(t.Name(), "TestBrowser"), dir: dir}
}

// person is one browser context, with its own cookies.
type person struct {
	j    *journey
	ctx  context.Context
	name string
}

func (j *journey) person(name string) *person {
	j.t.Helper()
	ctx, cancel := chromedp.NewContext(sharedBrowser(j.t), chromedp.WithNewBrowserContext())
	j.t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	j.t.Cleanup(cancelT)
	return &person{j: j, ctx: ctx, name: name}
}

// do runs browser actions, failing the test with what was being done.
func (p *person) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.j.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.shot("failed-" + what)
		p.j.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

func (p *person) open(path string, waitFor string) {
	p.j.t.Helper()
	url := path
	if strings.HasPrefix(path, "/") {
		url = p.j.srv.URL + path
	}
	p.do("open "+path, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// submit clicks a button and waits for what the next page shows.
func (p *person) click(button, waitFor string) {
	p.j.t.Helper()
	p.do("click "+button, chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// typeIn types text into an input, key by key (so that the page's
// scripts see it), or sets a textarea's value.
func (p *person) typeIn(field, text string) {
	p.j.t.Helper()
	if strings.HasPrefix(field, "textarea") {
		p.do("fill "+field, chromedp.SetValue(chromedp.CSS(field), text))
		return
	}
	clear := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q).value = "")`, field))(ctx, t)
		return err
	})
	p.do("type into "+field, chromedp.WaitVisible(chromedp.CSS(field)), clear, chromedp.SendKeys(chromedp.CSS(field), text))
}

func (p *person) text(sel string) string {
	p.j.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.j.t.Fatalf("%s: text of %s: %v", p.name, sel, err)
	}
	return s
}

func (p *person) wantText(sel, want string) {
	p.j.t.Helper()
	if got := p.text(sel); !strings.Contains(got, want) {
		p.shot("unexpected-text")
		p.j.t.Fatalf("%s: text of %s = %q, want it to contain %q", p.name, sel, got, want)
	}
}

// shot saves a full-page screenshot as the journey's next step.
func (p *person) shot(label string) {
	p.j.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.j.t.Logf("screenshot %s: %v", label, err)
		return
	}
	p.j.step++
	label = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(label))
	name := fmt.Sprintf("%s-%02d-%s-%s.png", p.j.name, p.j.step, p.name, label)
	if err := os.WriteFile(filepath.Join(p.j.dir, name), buf, 0o644); err != nil {
		p.j.t.Logf("screenshot %s: %v", label, err)
	}
}

// deliver runs the mail worker once, so that queued email reaches the
// built-in mailbox.
func (j *journey) deliver() {
	j.t.Helper()
	for {
		n, err := j.runner.DeliverOnce(j.ctx)
		if err != nil {
			j.t.Fatalf("DeliverOnce: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

var linkRe = regexp.MustCompile(`/i/[A-Za-z0-9_-]{43}`)

// signInAdmin signs the owner of acme in through the form.
func (p *person) signInAdmin() {
	p.j.t.Helper()
	p.open("/admin/", "#signin")
	p.shot("sign-in")
	p.typeIn("#email", "boss@acme.test")
	p.typeIn("#password", "correct horse battery")
	p.click("#signin", `body[data-page="admin_invitations"]`)
}

func (p *person) register(password string) {
	p.j.t.Helper()
	p.typeIn("#password", password)
	p.typeIn("#password_confirm", password)
}

func TestBrowserWholeJourney(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	admin := j.person("admin")
	admin.signInAdmin()
	admin.shot("empty-list")

	// Invite two people into a group.
	admin.click("#invite-button", "#emails")
	admin.typeIn("textarea#emails", "ana@example.com")
	admin.click("#check", "#availability")
	admin.wantText("#availability", "free to invite")
	if got, _ := chromedp.Run(admin.ctx, chromedp.Value(chromedp.CSS("#username"))); got != "ana" {
		t.Errorf("proposed username = %q, want ana", got)
	}
	admin.shot("availability")
	admin.typeIn("#username", "")
	admin.typeIn("textarea#emails", "ana@example.com, ben@example.com")
	admin.do("choose the group", chromedp.Click(chromedp.CSS(`input[name=groups]`)))
	admin.typeIn("textarea#message", "Welcome to the street!\nSee you on Saturday.")
	admin.shot("invite-form")
	admin.click("#send-invitations", "#results")
	admin.wantText("#results", "ana@example.com")
	admin.wantText("#results", "Invited")
	admin.shot("invite-results")

	// The mailbox has both invitations.
	j.deliver()
	admin.open("/admin/mailbox", `details[data-to="ben@example.com"]`)
	admin.do("open ana's email", chromedp.Click(chromedp.CSS(`details[data-to="ana@example.com"] summary`)))
	admin.shot("mailbox")
	anaLink := admin.mailLink("ana@example.com")
	benLink := admin.mailLink("ben@example.com")

	// Ana opens her link, tries a weak password, then registers.
	ana := j.person("ana")
	ana.open(anaLink, "#invited")
	ana.wantText(".message", "See you on Saturday.")
	ana.wantText(".grants", "Neighborhood A")
	ana.shot("invitation")
	ana.typeIn("#first_name", "Ana")
	ana.typeIn("#last_name", "Silva")
	ana.register("password")
	ana.shot("weak-password-typed")
	ana.click("#accept", ".field-error")
	ana.wantText("#password-error", "not a commonly used password")
	ana.shot("weak-password-refused")
	ana.register("a garden full of tomatoes")
	ana.click("#accept", "#in")
	ana.wantText("main", "Neighborhood A")
	ana.shot("youre-in")

	// Ben's invitation is revoked; his link says so.
	admin.open("/admin/orgs/acme/invitations", `tr[data-email="ben@example.com"]`)
	admin.click(`tr[data-email="ben@example.com"] form[action$="/revoke"] button`, ".flash.ok")
	admin.shot("revoked")
	ben := j.person("ben")
	ben.open(benLink, "#dead-revoked")
	ben.shot("revoked-link")

	// The admin sees accepted and revoked, and Ana in the group.
	admin.open("/admin/orgs/acme/invitations", "#invitations")
	admin.wantText(`tr[data-email="ana@example.com"]`, "Accepted")
	admin.wantText(`tr[data-email="ben@example.com"]`, "Revoked")
	admin.shot("list")
	admin.open("/admin/orgs/acme/members", "#members")
	admin.wantText(`#members tr[data-email="ana@example.com"] .groups`, "Neighborhood A")
	admin.shot("members")
}

// mailLink finds the invitation link in the newest email to addr.
func (p *person) mailLink(addr string) string {
	p.j.t.Helper()
	body, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.CSS(`details[data-to="`+addr+`"] pre`)))
	if err != nil {
		p.j.t.Fatalf("email to %s: %v", addr, err)
	}
	path := linkRe.FindString(body)
	if path == "" {
		p.j.t.Fatalf("the email to %s has no invitation link:\n%s", addr, body)
	}
	return path
}

func TestBrowserApproval(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	admin := j.person("admin")
	admin.signInAdmin()
	admin.open("/admin/orgs/acme/settings", "#auto_approval")
	admin.do("turn auto-approval off", chromedp.Click(chromedp.CSS("#auto_approval")))
	admin.click("#save-settings", ".flash.ok")
	admin.shot("settings-saved")
	org, err := j.svc.Org(j.ctx, invite.Actor{UserID: j.owner.ID}, "acme")
	if err != nil || org.Settings.AutoApproval {
		t.Fatalf("auto-approval after saving = %v (%v), want off", org.Settings.AutoApproval, err)
	}

	// A light accent colour gets dark text on the invitee's pages.
	if _, err := j.svc.UpdateSettings(j.ctx, invite.Actor{UserID: j.owner.ID}, "acme", func(st *account.Settings) error {
		st.BrandColor = "#f5c518"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, token := j.invite("cleo@example.com", invite.Options{FirstName: "Cleo", Groups: []string{"Neighborhood A"}})
	cleo := j.person("cleo")
	cleo.open("/i/"+token, "#invited")
	cleo.register("a garden full of tomatoes")
	if href, _ := chromedp.Run(cleo.ctx, chromedp.AttributeValue(chromedp.CSS(`link[href^="/theme/"]`), "href")); href.Value != "/theme/f5c518.css" {
		t.Errorf("theme stylesheet = %q, want /theme/f5c518.css", href.Value)
	}
	cleo.click("#accept", "#waiting")
	cleo.shot("waiting")

	admin.open("/admin/orgs/acme/invitations?status=awaiting_approval", `tr[data-email="cleo@example.com"]`)
	admin.wantText(`tr[data-email="cleo@example.com"]`, "Waiting for approval")
	admin.shot("awaiting")
	admin.click(`tr[data-email="cleo@example.com"] form[action$="/approve"] button`, ".flash.ok")
	admin.open("/admin/orgs/acme/invitations", `tr[data-email="cleo@example.com"]`)
	admin.wantText(`tr[data-email="cleo@example.com"]`, "Accepted")
	admin.shot("approved")

	cleo.open("/i/"+token, "#in")
	cleo.shot("youre-in")

	admin.open("/admin/orgs/acme/invitations", `tr[data-email="cleo@example.com"]`)
	admin.click(`tr[data-email="cleo@example.com"] a`, "ol.timeline")
	admin.wantText("ol.timeline", "approved")
	admin.shot("history")
}

func TestBrowserDeadLinks(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	owner := invite.Actor{UserID: j.owner.ID, Email: j.owner.Email}
	_, declined := j.invite("dee@example.com", invite.Options{})
	old, oldToken := j.invite("sam@example.com", invite.Options{})
	if _, err := j.svc.Resend(j.ctx, owner, "acme", old.Invitation.ID); err != nil {
		t.Fatal(err)
	}
	_, expired := j.invite("exa@example.com", invite.Options{ExpiresIn: 2 * time.Hour})

	p := j.person("visitor")
	p.open("/i/"+declined, "#decline")
	p.click("#decline", "#dead-declined")
	p.shot("declined")
	p.open("/i/"+oldToken, "#dead-superseded")
	p.shot("superseded")
	p.open("/i/"+strings.Repeat("x", 43), "#dead-not_found")
	p.shot("not-found")

	j.clock.Advance(3 * time.Hour)
	p.open("/i/"+expired, "#dead-expired")
	p.shot("expired")
	p.click(`form[action$="/request-link"] button`, ".flash.ok")
	p.wantText(".flash", "We asked boss@acme.test")
	p.shot("new-link-requested")
}

func TestBrowserExistingUserAndWrongAccount(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	if _, err := j.svc.CreateUser(j.ctx, "carol@example.com", "carol has a long password", false); err != nil {
		t.Fatal(err)
	}
	_, carolToken := j.invite("carol@example.com", invite.Options{Message: "Carol, join us."})
	_, daveToken := j.invite("dave@example.com", invite.Options{})

	carol := j.person("carol")
	carol.open("/i/"+carolToken, "#accept")
	carol.wantText("main", "Sign in to accept")
	carol.shot("sign-in-to-accept")
	carol.typeIn("#password", "not my password")
	carol.click("#accept", ".field-error")
	carol.shot("wrong-password")
	carol.typeIn("#password", "carol has a long password")
	carol.click("#accept", "#in")
	carol.shot("youre-in")

	// Signed in as Carol, Dave's link refuses and offers to sign out.
	carol.open("/i/"+daveToken, "#mismatch")
	carol.wantText("#mismatch", "carol@example.com")
	carol.wantText("#mismatch", "dave@example.com")
	carol.shot("signed-in-as-someone-else")
	if info, err := j.svc.Lookup(j.ctx, daveToken); err != nil || info.Status != invite.StatusPending {
		t.Fatalf("Dave's invitation after Carol opened it: %v, %v; want pending", info, err)
	}
	carol.click("#signout", "#password_confirm")
	carol.shot("signed-out-register-form")
	if info, err := j.svc.Lookup(j.ctx, daveToken); err != nil || info.Status != invite.StatusPending {
		t.Fatalf("Dave's invitation after signing out: %v, %v; want pending", info, err)
	}
}

func TestBrowserMailScannerLeavesLinkUsable(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	c, token := j.invite("erin@example.com", invite.Options{FirstName: "Erin"})
	// A scanner fetches the link (and the pages it links to) before Erin.
	for range 3 {
		res, err := http.Get(c.Link)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("scanner GET = %d, want 200", res.StatusCode)
		}
	}
	scanner := j.person("scanner")
	scanner.open("/i/"+token, "#invited")
	scanner.shot("scanner-view")

	// Erin is on her phone.
	erin := j.person("erin")
	erin.do("phone-sized screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	erin.open("/i/"+token, "#invited")
	erin.shot("phone")
	erin.register("a garden full of tomatoes")
	erin.click("#accept", "#in")
	erin.shot("youre-in")
	members, _, err := j.svc.Members(j.ctx, invite.Actor{UserID: j.owner.ID}, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range members {
		found = found || m.User.Email == "erin@example.com"
	}
	if !found {
		t.Errorf("Erin is not a member after accepting")
	}
}
