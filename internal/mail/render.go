package mail

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates/layout.html templates/body.txt
var templateFS embed.FS

// Data is everything a message may show. Every string in it is user-supplied
// and is escaped (HTML) or cleaned of line breaks (subject, names) on output.
type Data struct {
	Kind          Kind
	To            string    // recipient address
	Language      string    // BCP 47 tag wanted for this recipient ("nl-BE", "de", "" = unknown)
	OrgLanguage   string    // the organization's default language, the first fallback
	OrgName       string    // the organization's display name
	BrandColor    string    // "#RRGGBB"; empty or invalid = DefaultBrandColor
	RecipientName string    // may be empty
	InviterName   string    // display name (may be empty: then InviterEmail is shown)
	InviterEmail  string    // the inviter's address
	InviteeName   string    // display name (may be empty: then InviteeEmail is shown)
	InviteeEmail  string    // the invitee's address
	Message       string    // the inviter's personal message, free text, may contain newlines, may be empty
	Role          string    // role name the invitee gets
	Groups        []string  // groups the invitee joins
	Admin         bool      // invitee gets admin rights
	Link          string    // the one call-to-action URL of the message
	ExpiresAt     time.Time // when the link stops working (zero = not shown)
	Reason        string    // optional, e.g. a rejection note
}

// Message is a rendered email, ready for a Sender or the built-in mailbox.
type Message struct {
	To, Subject, Text, HTML string
	Language                string // the language actually used ("nl", "en", ...)
}

// Renderer turns Data into Messages. It holds the parsed templates and
// catalogs and is safe for concurrent use.
type Renderer struct {
	locales map[string]*locale
	html    *htmltemplate.Template
	text    *texttemplate.Template
}

// NewRenderer parses the embedded templates and catalogs. Call it once and
// share the Renderer.
func NewRenderer() (*Renderer, error) {
	locales, err := loadLocales()
	if err != nil {
		return nil, err
	}
	h, err := htmltemplate.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("mail: parse html layout: %w", err)
	}
	t, err := texttemplate.ParseFS(templateFS, "templates/body.txt")
	if err != nil {
		return nil, fmt.Errorf("mail: parse text body: %w", err)
	}
	// A missing field is a bug in this package; fail rather than print
	// "<no value>" into someone's inbox.
	h.Option("missingkey=error")
	t.Option("missingkey=error")
	return &Renderer{locales: locales, html: h, text: t}, nil
}

// Languages returns the supported languages, English (the last fallback)
// first.
func (r *Renderer) Languages() []string { return slices.Clone(languages) }

// Render builds the message for d in the recipient's language: Language,
// then OrgLanguage, then English. It fails for an unknown kind, for a kind
// that needs a link when Link is empty, and for a link that is not an
// absolute http(s) URL.
func (r *Renderer) Render(d Data) (Message, error) {
	spec, ok := kindSpecs[d.Kind]
	if !ok {
		return Message{}, fmt.Errorf("mail: render: unknown kind %q", d.Kind)
	}
	in, err := prepare(d, spec)
	if err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", d.Kind, err)
	}
	loc := pick(r.locales, d.Language, d.OrgLanguage)

	subject, err := loc.text(string(d.Kind)+"_subject", in.short)
	if err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", d.Kind, err)
	}
	// The values were cleaned already; cleaning the result as well keeps a
	// stray line break in a translation from splitting the header.
	subject = oneLine(subject)

	var text, html bytes.Buffer
	tv, err := r.view(loc, d.Kind, spec, in, subject, false)
	if err == nil {
		err = r.text.Execute(&text, tv)
	}
	if err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", d.Kind, err)
	}
	hv, err := r.view(loc, d.Kind, spec, in, subject, true)
	if err == nil {
		err = r.html.Execute(&html, hv)
	}
	if err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", d.Kind, err)
	}
	return Message{
		To:       oneLine(d.To),
		Subject:  subject,
		Text:     text.String(),
		HTML:     html.String(),
		Language: loc.lang,
	}, nil
}

// input is Data cleaned for output, with the values catalog messages refer
// to by name.
type input struct {
	short   map[string]string // people by name only: for subjects
	full    map[string]string // people by name and address: for the body
	name    string            // the recipient's name, for the greeting
	header  string
	brand   string
	message string
	reason  string
	role    string
	groups  []string
	admin   bool
	link    string
	expires time.Time
}

func prepare(d Data, spec kindSpec) (input, error) {
	in := input{
		name:    oneLine(d.RecipientName),
		header:  oneLine(d.OrgName),
		brand:   BrandColor(d.BrandColor),
		message: multiLine(d.Message),
		reason:  multiLine(d.Reason),
		role:    oneLine(d.Role),
		admin:   d.Admin,
		expires: d.ExpiresAt,
	}
	if in.header == "" {
		in.header = "usher"
	}
	for _, g := range d.Groups {
		if g = oneLine(g); g != "" {
			in.groups = append(in.groups, g)
		}
	}
	if strings.TrimSpace(d.Link) != "" {
		link, err := checkLink(d.Link)
		if err != nil {
			return input{}, err
		}
		in.link = link
	} else if spec.linkRequired {
		return input{}, fmt.Errorf("link is required")
	}

	inviterName, inviterEmail := oneLine(d.InviterName), oneLine(d.InviterEmail)
	inviteeName, inviteeEmail := oneLine(d.InviteeName), oneLine(d.InviteeEmail)
	email := inviteeEmail
	if d.Kind == KindPasswordReset || email == "" {
		email = oneLine(d.To)
	}
	org := oneLine(d.OrgName)
	in.short = map[string]string{
		"Org":     org,
		"Inviter": cmp.Or(inviterName, inviterEmail),
		"Invitee": cmp.Or(inviteeName, inviteeEmail),
		"Email":   email,
	}
	in.full = map[string]string{
		"Org":     org,
		"Inviter": person(inviterName, inviterEmail),
		"Invitee": person(inviteeName, inviteeEmail),
		"Email":   email,
	}
	return in, nil
}

// person shows a name with its address, so a recipient can tell a real
// colleague from someone who merely chose the same display name.
func person(name, email string) string {
	switch {
	case name == "":
		return email
	case email == "" || strings.EqualFold(name, email):
		return name
	default:
		return name + " (" + email + ")"
	}
}
