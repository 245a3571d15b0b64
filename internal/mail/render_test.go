package mail

import (
	"flag"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// sharedRenderer is parsed once: the Renderer is read-only after NewRenderer,
// and sharing it across parallel tests also exercises concurrent use.
var sharedRenderer = sync.OnceValues(NewRenderer)

func setup(t testing.TB) *Renderer {
	t.Helper()
	r, err := sharedRenderer()
	if err != nil {
		t.Fatalf("NewRenderer() error = %v", err)
	}
	return r
}

var goldenExpiry = time.Date(2026, time.November, 25, 14, 0, 0, 0, time.UTC)

// sample is a complete Data for kind: every field set, so the golden files
// also show which parts each kind leaves out.
func sample(kind Kind, lang string) Data {
	d := Data{
		Kind:         kind,
		To:           "ana.lima@example.com",
		Language:     lang,
		OrgLanguage:  "en",
		OrgName:      "Acme Research",
		BrandColor:   "#0f766e",
		InviterName:  "Bob Smith",
		InviterEmail: "bob@acme.example",
		InviteeName:  "Ana Lima",
		InviteeEmail: "ana.lima@example.com",
		Message:      "Welcome aboard!\nWe start every Monday at 9.",
		Role:         "editor",
		Groups:       []string{"Design", "Research"},
		Admin:        true,
		Link:         "https://usher.example/i/Zm9vYmFyYmF6?src=email&v=2",
		ExpiresAt:    goldenExpiry,
	}
	switch kind {
	case KindInvitation, KindReminder, KindApproved, KindRejected, KindPasswordReset:
		d.RecipientName = "Ana Lima"
	case KindAccepted, KindExpired, KindLinkRequested:
		d.RecipientName, d.To = "Bob Smith", "bob@acme.example"
	case KindApprovalNeeded:
		d.RecipientName, d.To = "Carla Díaz", "carla@acme.example"
	}
	switch kind {
	case KindAccepted:
		d.Link = "https://usher.example/console/acme/members"
	case KindApprovalNeeded, KindExpired, KindLinkRequested:
		d.Link = "https://usher.example/console/acme/invitations/inv_42"
	case KindApproved:
		d.Link = "https://usher.example/login?org=acme&next=%2Fconsole%2Facme"
	case KindRejected:
		d.Link = ""
		d.Reason = "The team is full this quarter.\nPlease ask again in January."
	case KindPasswordReset:
		d.Link = "https://usher.example/reset/cmVzZXR0b2tlbg"
	}
	switch kind {
	case KindInvitation, KindReminder, KindPasswordReset:
	default:
		d.ExpiresAt = time.Time{}
	}
	return d
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	r := setup(t)
	for _, kind := range Kinds() {
		for _, lang := range r.Languages() {
			t.Run(string(kind)+"/"+lang, func(t *testing.T) {
				t.Parallel()
				d := sample(kind, lang)
				m, err := r.Render(d)
				if err != nil {
					t.Fatalf("Render(%s, %s) error = %v", kind, lang, err)
				}
				base := filepath.Join("testdata", "golden", string(kind)+"."+lang)
				text := "To: " + m.To + "\nSubject: " + m.Subject + "\nLanguage: " + m.Language + "\n\n" + m.Text
				golden(t, base+".txt", text)
				golden(t, base+".html", m.HTML)
			})
		}
	}
}

// golden compares got with the file at path, or rewrites the file with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./internal/mail -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; run with -update if intended):\n%s", path, diff)
	}
}

func TestRenderEveryKindEveryLanguage(t *testing.T) {
	t.Parallel()
	r := setup(t)
	english := map[Kind]string{}
	for _, kind := range Kinds() {
		m, err := r.Render(sample(kind, "en"))
		if err != nil {
			t.Fatalf("Render(%s, en) error = %v", kind, err)
		}
		english[kind] = m.Subject
	}
	for _, kind := range Kinds() {
		for _, lang := range r.Languages() {
			d := sample(kind, lang)
			m, err := r.Render(d)
			if err != nil {
				// A key missing in one language surfaces here: the catalog
				// lookup fails instead of falling back to English.
				t.Errorf("Render(%s, %s) error = %v", kind, lang, err)
				continue
			}
			if m.Language != lang {
				t.Errorf("Render(%s, %s) language = %q, want %q", kind, lang, m.Language, lang)
			}
			if lang != "en" && m.Subject == english[kind] {
				t.Errorf("Render(%s, %s) subject = %q, the English one", kind, lang, m.Subject)
			}
			for part, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML} {
				if s == "" || strings.Contains(s, "<no value>") || strings.Contains(s, "{{") {
					t.Errorf("Render(%s, %s) %s = %q, want a complete message", kind, lang, part, s)
				}
			}
			if kind != KindPasswordReset && !strings.Contains(m.Subject, d.OrgName) {
				t.Errorf("Render(%s, %s) subject = %q, want the organization name in it", kind, lang, m.Subject)
			}
			if d.Link == "" {
				continue
			}
			if !strings.Contains(m.Text, "\n"+d.Link+"\n") {
				t.Errorf("Render(%s, %s) text has no line %q:\n%s", kind, lang, d.Link, m.Text)
			}
			if href := `href="` + template.HTMLEscapeString(d.Link) + `"`; strings.Count(m.HTML, href) != 2 {
				t.Errorf("Render(%s, %s) html does not have %s on the button and the text link", kind, lang, href)
			}
		}
	}
}

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	t.Parallel()
	r := setup(t)
	want, err := catalogIDs("en")
	if err != nil {
		t.Fatal(err)
	}
	// The English catalog must cover every id the code builds from a kind.
	have := map[string]bool{}
	for _, id := range want {
		have[id] = true
	}
	for kind, spec := range kindSpecs {
		for _, id := range []string{string(kind) + "_subject", string(kind) + "_intro", string(kind) + "_button", spec.footer} {
			if !have[id] {
				t.Errorf("catalog en lacks %q, used by kind %s", id, kind)
			}
		}
	}
	for _, lang := range r.Languages()[1:] {
		got, err := catalogIDs(lang)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("catalog %s ids differ from en (-en +%s):\n%s", lang, lang, diff)
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	t.Parallel()
	r := setup(t)
	const evil = `<script>alert(1)</script>`
	d := sample(KindInvitation, "en")
	d.InviterName, d.InviteeName, d.RecipientName, d.OrgName = evil, evil, evil, evil
	d.Role, d.Groups = evil, []string{evil}
	d.Message = `"quotes" & <b>` + "\nline two"
	m, err := r.Render(d)
	if err != nil {
		t.Fatalf("Render(%v) error = %v", d, err)
	}
	for _, bad := range []string{"<script", "<b>", `"quotes"`} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("Render(%v) html contains %q unescaped", d.Kind, bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&#34;quotes&#34; &amp; &lt;b&gt;<br>\nline two",
		"<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>",
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("Render(%v) html lacks %q", d.Kind, want)
		}
	}
	// The text part is not HTML: it shows the characters as typed.
	if !strings.Contains(m.Text, "> \"quotes\" & <b>\n> line two") {
		t.Errorf("Render(%v) text = %q, want the message quoted as typed", d.Kind, m.Text)
	}
}

func TestRenderSubjectHasNoLineBreaks(t *testing.T) {
	t.Parallel()
	r := setup(t)
	d := sample(KindInvitation, "en")
	d.OrgName = "Acme\r\nBcc: victim@example.com"
	d.InviterName = "Bob\nSmith\r"
	d.To = "ana@example.com\r\nBcc: x@example.com"
	m, err := r.Render(d)
	if err != nil {
		t.Fatalf("Render(%v) error = %v", d.Kind, err)
	}
	const want = "Bob Smith invited you to join Acme Bcc: victim@example.com"
	if m.Subject != want {
		t.Errorf("Render(%v) subject = %q, want %q", d.Kind, m.Subject, want)
	}
	if strings.ContainsAny(m.To, "\r\n") {
		t.Errorf("Render(%v) to = %q, want no line breaks", d.Kind, m.To)
	}
}

func TestRenderLanguageFallback(t *testing.T) {
	t.Parallel()
	r := setup(t)
	tests := []struct {
		lang, org, want string
	}{
		{"nl-BE", "", "nl"},
		{"NL_be", "fr", "nl"},
		{"de-CH", "", "de"},
		{"fr-CA", "de", "fr"},
		{"es-419", "", "es"},
		{"en-GB", "nl", "en"},
		{"ja", "de", "de"},
		{"", "de-AT", "de"},
		{"xx-garbage!", "es", "es"},
		{"nl-BE,nl;q=0.9", "", "nl"},
		{"ja", "ko", "en"},
		{"", "", "en"},
		{"%%%", "!!", "en"},
	}
	for _, tt := range tests {
		d := sample(KindReminder, tt.lang)
		d.OrgLanguage = tt.org
		m, err := r.Render(d)
		if err != nil {
			t.Errorf("Render(language %q, org %q) error = %v", tt.lang, tt.org, err)
			continue
		}
		if m.Language != tt.want {
			t.Errorf("Render(language %q, org %q) language = %q, want %q", tt.lang, tt.org, m.Language, tt.want)
		}
	}
}

func TestBrandColor(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want, text string }{
		{"#0F766E", "#0f766e", "#ffffff"},
		{" #ffe066 ", "#ffe066", "#000000"},
		{"#ffffff", "#ffffff", "#000000"},
		{"#000000", "#000000", "#ffffff"},
		{"", DefaultBrandColor, "#ffffff"},
		{"red", DefaultBrandColor, "#ffffff"},
		{"#fff", DefaultBrandColor, "#ffffff"},
		{"#12345g", DefaultBrandColor, "#ffffff"},
		{"#123456;background:url(x)", DefaultBrandColor, "#ffffff"},
		{"0f766e", DefaultBrandColor, "#ffffff"},
	}
	r := setup(t)
	for _, tt := range tests {
		if got := BrandColor(tt.in); got != tt.want {
			t.Errorf("BrandColor(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := TextColorOn(tt.in); got != tt.text {
			t.Errorf("TextColorOn(%q) = %q, want %q", tt.in, got, tt.text)
		}
		d := sample(KindInvitation, "en")
		d.BrandColor = tt.in
		m, err := r.Render(d)
		if err != nil {
			t.Fatalf("Render(brand %q) error = %v", tt.in, err)
		}
		if want := `bgcolor="` + tt.want + `" style="background-color:` + tt.want + `;`; !strings.Contains(m.HTML, want) {
			t.Errorf("Render(brand %q) html lacks %q", tt.in, want)
		}
		if want := "color:" + tt.text + ";text-decoration:none"; !strings.Contains(m.HTML, want) {
			t.Errorf("Render(brand %q) html lacks button text %q", tt.in, want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	r := setup(t)
	tests := []struct {
		name   string
		change func(*Data)
		want   string
	}{
		{"unknown kind", func(d *Data) { d.Kind = "welcome" }, `unknown kind "welcome"`},
		{"no link", func(d *Data) { d.Link = "" }, "link is required"},
		{"javascript link", func(d *Data) { d.Link = "javascript:alert(1)" }, "absolute http or https URL"},
		{"relative link", func(d *Data) { d.Link = "/i/abc" }, "absolute http or https URL"},
	}
	for _, tt := range tests {
		d := sample(KindInvitation, "en")
		tt.change(&d)
		_, err := r.Render(d)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Render(%s) error = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	// Kinds whose link is optional render without one, and without a button.
	d := sample(KindRejected, "en")
	d.Link = ""
	m, err := r.Render(d)
	if err != nil {
		t.Fatalf("Render(rejected, no link) error = %v", err)
	}
	if strings.Contains(m.HTML, "<a href") {
		t.Errorf("Render(rejected, no link) html has a link")
	}
}

func TestRenderOptionalParts(t *testing.T) {
	t.Parallel()
	r := setup(t)
	d := Data{
		Kind:         KindInvitation,
		To:           "ana@example.com",
		OrgName:      "Acme",
		InviterEmail: "bob@acme.example",
		Link:         "https://usher.example/i/x",
	}
	m, err := r.Render(d)
	if err != nil {
		t.Fatalf("Render(%v) error = %v", d.Kind, err)
	}
	if want := "bob@acme.example invited you to join Acme"; m.Subject != want {
		t.Errorf("Render(minimal) subject = %q, want %q", m.Subject, want)
	}
	if !strings.HasPrefix(m.Text, "Hello,\n") {
		t.Errorf("Render(minimal) text = %q, want the anonymous greeting", m.Text)
	}
	for _, absent := range []string{"valid until", "Message from", "Role", ">"} {
		if strings.Contains(m.Text, absent) {
			t.Errorf("Render(minimal) text contains %q:\n%s", absent, m.Text)
		}
	}
}
