package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

func TestConsoleActions(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	a, _ := ev.invite("ana@example.com", invite.Options{})
	bo, _ := ev.invite("bo@example.com", invite.Options{})
	cy, _ := ev.invite("cy@example.com", invite.Options{})
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	base := "/admin/orgs/acme/invitations/"

	// Copy a fresh link: shown on the answer, once.
	st, _, body := b.post(base+a.Invitation.ID+"/link", url.Values{})
	link := regexp.MustCompile(`value="(http://[^"]+/i/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(body)
	if st != http.StatusOK || link == nil {
		t.Fatalf("copy link = %d, no link in the page", st)
	}
	if _, again := b.get(base + a.Invitation.ID); strings.Contains(again, link[1]) {
		t.Errorf("the fresh link is shown again on the next visit")
	}
	if info, err := ev.svc.Lookup(ev.ctx, link[1][strings.LastIndex(link[1], "/")+1:]); err != nil || info.Status != invite.StatusPending {
		t.Errorf("the fresh link does not work: %v", err)
	}

	// Edit a pending invitation.
	st, h, _ := b.post(base+a.Invitation.ID+"/edit", url.Values{"first_name": {"Ana"}, "role": {"admin"},
		"message": {"Hello again"}, "valid_days": {"3"}})
	if st != http.StatusSeeOther {
		t.Fatalf("edit = %d", st)
	}
	if _, body := b.get(h.Get("Location")); !strings.Contains(body, "Saved the changes") || !strings.Contains(body, "Hello again") {
		t.Errorf("the edit is not confirmed or not shown")
	}
	inv, _ := ev.svc.Get(ev.ctx, invite.Actor{UserID: ev.owner.ID}, "acme", a.Invitation.ID)
	if inv.Role != "admin" || inv.FirstName != "Ana" {
		t.Errorf("after edit: role %q, name %q", inv.Role, inv.FirstName)
	}
	st, _, body = b.post(base+a.Invitation.ID+"/edit", url.Values{"role": {"nosuchrole"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "field-error") && !strings.Contains(body, "notice bad") {
		t.Errorf("a bad edit = %d, want 422 with the error shown", st)
	}

	// Bulk revoke two.
	st, h, _ = b.post(base+"bulk", url.Values{"action": {"revoke"}, "id": {bo.Invitation.ID, cy.Invitation.ID},
		"back": {"/admin/orgs/acme/invitations?status=revoked"}})
	if st != http.StatusSeeOther || h.Get("Location") != "/admin/orgs/acme/invitations?status=revoked" {
		t.Fatalf("bulk revoke = %d → %s", st, h.Get("Location"))
	}
	_, body = b.get(h.Get("Location"))
	if !strings.Contains(body, "Revoked 2 invitations.") || !strings.Contains(body, "bo@example.com") || strings.Contains(body, `data-email="ana@example.com"`) {
		t.Errorf("the revoked filter or the confirmation is wrong")
	}

	// Search by part of the email.
	if _, body := b.get("/admin/orgs/acme/invitations?q=ana"); !strings.Contains(body, `data-email="ana@example.com"`) || strings.Contains(body, `data-email="bo@example.com"`) {
		t.Errorf("search by part of the email does not filter")
	}

	// Settings: a bad value is explained next to its field; a good one saves.
	st, _, body = b.post("/admin/orgs/acme/settings", url.Values{"ttl_value": {"500"}, "ttl_unit": {"days"},
		"default_language": {"en"}, "password_policy": {"strict"}, "brand_color": {"#123456"}})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "between 1 hour and 365 days") {
		t.Errorf("settings with 500 days = %d, want 422 with the range", st)
	}
	st, _, _ = b.post("/admin/orgs/acme/settings", url.Values{"ttl_value": {"72"}, "ttl_unit": {"hours"}, "reminders": {"1, 2"},
		"default_language": {"nl-be"}, "password_policy": {"strict"}, "brand_color": {"#123456"}, "allowed_domains": {"example.com\nacme.test"}})
	if st != http.StatusSeeOther {
		t.Fatalf("settings save = %d", st)
	}
	org, _ := ev.svc.Org(ev.ctx, invite.Actor{UserID: ev.owner.ID}, "acme")
	if s := org.Settings; s.InvitationTTL.Hours() != 72 || len(s.ReminderSchedule) != 2 || s.DefaultLanguage != "nl-BE" ||
		s.PasswordPolicy != "strict" || s.BrandColor != "#123456" || len(s.AllowedDomains) != 2 || s.AutoApproval {
		t.Errorf("settings after save = %+v", s)
	}

	// Groups.
	b.post("/admin/orgs/acme/groups", url.Values{"name": {"Garden club"}})
	if _, body := b.get("/admin/orgs/acme/groups"); !strings.Contains(body, "Garden club") {
		t.Errorf("the new group is not listed")
	}
	// Deleting it flashes and goes back to the list; deleting it again is
	// a missing resource, which takes the whole page.
	groups, err := ev.svc.Groups(ev.ctx, invite.Actor{UserID: ev.owner.ID}, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var garden string
	for _, g := range groups {
		if g.Name == "Garden club" {
			garden = g.ID
		}
	}
	st, h, _ = b.post("/admin/orgs/acme/groups/"+garden+"/delete", url.Values{})
	if st != http.StatusSeeOther || h.Get("Location") != "/admin/orgs/acme/groups" {
		t.Errorf("delete group = %d to %q, want 303 to the groups", st, h.Get("Location"))
	}
	if _, body := b.get("/admin/orgs/acme/groups"); !strings.Contains(body, `class="flash ok"`) ||
		!strings.Contains(body, "Deleted the group.") || strings.Contains(body, "Garden club") {
		t.Errorf("after deleting, the groups page lacks the flash or still lists the group")
	}
	if st, _, _ := b.post("/admin/orgs/acme/groups/"+garden+"/delete", url.Values{}); st != http.StatusNotFound {
		t.Errorf("delete a deleted group = %d, want 404", st)
	}
	// Removing the only owner is refused beside the members page.
	st, h, _ = b.post("/admin/orgs/acme/members/"+ev.owner.ID+"/remove", url.Values{})
	if st != http.StatusSeeOther || h.Get("Location") != "/admin/orgs/acme/members" {
		t.Errorf("remove the only owner = %d to %q, want 303 to the members", st, h.Get("Location"))
	}
	if _, body := b.get("/admin/orgs/acme/members"); !strings.Contains(body, `class="flash bad"`) ||
		!strings.Contains(body, "at least one active owner") {
		t.Errorf("the members page does not say why the owner stays")
	}

	// Audit log and mailbox render.
	for _, p := range []string{"/admin/orgs/acme/audit", "/admin/mailbox", "/admin/orgs/acme/members", "/admin/orgs/acme/invite"} {
		if st, _ := b.get(p); st != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, st)
		}
	}
	// Another organization's console is not found.
	if st, _ := b.get("/admin/orgs/nope/invitations"); st != http.StatusNotFound {
		t.Errorf("GET unknown org = %d, want 404", st)
	}
}

func TestConsoleNeedsSignIn(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	b := ev.browser()
	st, h, _ := b.do("GET", "/admin/orgs/acme/invitations", nil)
	if st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/admin/signin?next=") {
		t.Errorf("anonymous console = %d → %s, want the sign-in page", st, h.Get("Location"))
	}
	st, _, body := b.post("/admin/signin", url.Values{"email": {"boss@acme.test"}, "password": {"wrong"}})
	if st != http.StatusForbidden || !strings.Contains(body, "email or password is not right") {
		t.Errorf("wrong password = %d", st)
	}
}

func TestConsolePagesThroughTheList(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	var emails []string
	for i := range 60 {
		emails = append(emails, fmt.Sprintf("p%02d@example.com", i))
	}
	if _, err := ev.svc.InviteMany(ev.ctx, invite.Actor{UserID: ev.owner.ID, Email: ev.owner.Email}, "acme", emails, invite.Options{}, false); err != nil {
		t.Fatal(err)
	}
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	next := regexp.MustCompile(`href="(/admin/orgs/acme/invitations\?[^"]+)" rel="next"`)
	seen := map[string]bool{}
	path := "/admin/orgs/acme/invitations?sort=email"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		st, body := b.get(path)
		if st != http.StatusOK {
			t.Fatalf("GET %s = %d", path, st)
		}
		if !strings.Contains(body, "60 invitations") {
			t.Errorf("page %d does not show the total", pages)
		}
		for _, m := range regexp.MustCompile(`data-email="([^"]+)"`).FindAllStringSubmatch(body, -1) {
			if seen[m[1]] {
				t.Errorf("%s is on two pages", m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := next.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	if len(seen) != 60 {
		t.Errorf("saw %d invitations over the pages, want 60", len(seen))
	}
}

// TestConsoleGrantFields: the invite form and the import form share their
// grant fields (grantsView, template "grant_fields"): both apply "admin"
// and "valid for (days)", and both refuse a validity outside 1 hour to 365
// days the same way, keeping what was typed and creating nothing.
func TestConsoleGrantFields(t *testing.T) {
	t.Parallel()
	ev := newEnv(t, storetest.Engines()[0])
	b := ev.browser()
	b.signIn("boss@acme.test", "correct horse battery")
	owner := invite.Actor{UserID: ev.owner.ID}
	const refused = "Validity must be a number of days from 1 hour (0.05) to 365."

	for _, days := range []string{"0.01", "400", "soon"} {
		before := ev.invitationTotal("")
		st, _, body := b.post("/admin/orgs/acme/invite", url.Values{"emails": {"gf@example.com"}, "valid_days": {days}})
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, html.EscapeString(refused)) ||
			!strings.Contains(body, `value="`+days+`"`) {
			t.Errorf("invite, valid_days %q: %d, want 422 with the refusal and the value kept", days, st)
		}
		st, _, body = b.upload("/admin/orgs/acme/import", "people.csv", []byte("email\ngf@example.com\n"), "valid_days", days)
		if st != http.StatusUnprocessableEntity || !strings.Contains(body, html.EscapeString(refused)) ||
			!strings.Contains(body, `value="`+days+`"`) {
			t.Errorf("import, valid_days %q: %d, want 422 with the refusal and the value kept", days, st)
		}
		if n := ev.invitationTotal(""); n != before {
			t.Errorf("valid_days %q: refused forms made invitations", days)
		}
	}

	st, _, _ := b.post("/admin/orgs/acme/invite", url.Values{"emails": {"gf@example.com"}, "valid_days": {"2"}, "admin": {"true"}})
	if st != http.StatusOK {
		t.Fatalf("invite = %d", st)
	}
	page, err := ev.svc.List(ev.ctx, owner, "acme", invite.ListFilter{Query: "gf@example.com"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list = %v, %v", page, err)
	}
	if inv := page.Items[0]; !inv.Admin || inv.ExpiresAt.Sub(inv.SentAt) != 48*time.Hour {
		t.Errorf("invited with admin %v, valid %v; want admin, 48h", inv.Admin, inv.ExpiresAt.Sub(inv.SentAt))
	}
	st, h, _ := b.upload("/admin/orgs/acme/import", "people.csv", []byte("email\ngf2@example.com\n"), "valid_days", "2", "admin", "true")
	if st != http.StatusSeeOther {
		t.Fatalf("import upload = %d", st)
	}
	imp, err := ev.svc.GetImport(ev.ctx, owner, "acme", h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:])
	if err != nil || !imp.Options.Admin || imp.Options.ExpiresIn != 48*time.Hour {
		t.Errorf("import options = %+v, %v; want admin, 48h", imp.Options, err)
	}
}
