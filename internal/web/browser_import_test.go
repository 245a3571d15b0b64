package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"usher/internal/invite"
)

// TestBrowserImport: the owner uploads a file through the console, sees
// the preview, filters it, commits, and finds the import's invitations.
func TestBrowserImport(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	j.importFixtureState()
	dir := t.TempDir()
	good := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(good, fixtureCSV(t, importFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "people.pdf")
	if err := os.WriteFile(bad, []byte("%PDF-1.4 not a spreadsheet"), 0o644); err != nil {
		t.Fatal(err)
	}

	big := filepath.Join(dir, "many.csv")
	rows := [][]string{{"email", "first_name"}}
	for i := range 20000 {
		rows = append(rows, []string{fmt.Sprintf("person%d@example.com", i), "Person"})
	}
	if err := os.WriteFile(big, fixtureCSV(t, rows), 0o644); err != nil {
		t.Fatal(err)
	}

	admin := j.person("admin")
	admin.signInAdmin()
	admin.click(`nav.side a[href="/admin/orgs/acme/import"]`, "#upload")
	admin.shot("import-form")

	// A large file: the page shows the rows read until the preview is ready.
	admin.do("choose the large CSV", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{big}))
	admin.click("#upload", "#import-progress, #import-commit")
	admin.shot("progress")
	admin.do("wait for the preview", chromedp.WaitVisible(chromedp.CSS("#import-commit")))
	admin.wantText("#import-commit", "20000 will become invitations")
	admin.click(`.pagehead a[href="/admin/orgs/acme/import"]`, "#upload")

	// A file that is not a spreadsheet is explained on the form.
	admin.do("choose a PDF", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{bad}))
	admin.click("#upload", "#import-error")
	admin.wantText("#import-error", "")
	admin.shot("unsupported-file")

	admin.do("choose the CSV", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{good}))
	admin.typeIn("textarea#message", "Welcome to the street!")
	admin.click("#upload", "#import-commit")
	admin.wantText("#import-commit", "3 will become invitations")
	admin.wantText("#import-rows", "not-an-email")
	admin.shot("preview")

	admin.click(`#outcomes a[data-outcome="unknown_group"]`, `#import-rows tr[data-outcome="unknown_group"]`)
	admin.wantText("#total", "1 row with this outcome")
	admin.shot("preview-filtered")

	admin.click("#commit", "#import-summary")
	admin.wantText("#import-summary", "3 invitations created; emails are on their way at the configured rate.")
	admin.shot("summary")

	admin.click("#import-invitations", "#import-filter")
	admin.wantText("table", "ana@example.com")
	admin.shot("invitations-of-the-import")
}

// TestBrowserPasswordCheck: the registration form asks the server about
// common passwords as the person types.
func TestBrowserPasswordCheck(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	_, token := j.invite("new@example.com", invite.Options{})
	p := j.person("invitee")
	p.open("/i/"+token, "#password")
	p.typeIn("#password", "password123")
	p.do("wait for the common rule to fail", chromedp.WaitVisible(chromedp.CSS(`#rules li[data-rule="common"].unmet`)))
	p.shot("common-password")
	p.typeIn("#password", "violet tram under oak")
	p.do("wait for the common rule to pass", chromedp.WaitVisible(chromedp.CSS(`#rules li[data-rule="common"].met`)))
	p.shot("good-password")
}
