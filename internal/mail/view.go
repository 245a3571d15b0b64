package mail

import (
	"html"
	"html/template"
	"strings"
)

// view is what the layouts see. The same type serves both parts: sentences
// that embed values (Greeting, Intro, ...) are template.HTML, built escaped
// for the HTML part and left raw for the text part (text/template prints
// them as they are). Everything else is a plain string that html/template
// escapes itself.
type view struct {
	Lang       string
	Subject    string
	Header     string
	Brand      template.CSS // validated "#rrggbb" only
	ButtonText template.CSS // "#ffffff" or "#000000"

	Greeting template.HTML
	Intro    template.HTML

	MessageHeading template.HTML
	Message        template.HTML // escaped, lines joined with <br> (HTML part)
	QuotedMessage  string        // lines prefixed with "> " (text part)

	ReasonHeading string
	Reason        template.HTML
	QuotedReason  string

	Details []detail

	Button    string
	LinkHint  string
	LinkLabel string
	Link      string

	Expires template.HTML
	Footer  template.HTML
}

// detail is one line of what the invitee gets (role, groups, admin rights).
type detail struct {
	Label, Value string
	Line         string // "Label: Value" punctuated for the language, for the text part
}

// view localizes every part of the message for one output format.
func (r *Renderer) view(loc *locale, kind Kind, spec kindSpec, in input, subject string, asHTML bool) (view, error) {
	var firstErr error
	// msg localizes one catalog message for the format being built; the
	// first error is kept and reported once at the end.
	msg := func(id string, args map[string]string, strong bool) template.HTML {
		var s template.HTML
		var err error
		if asHTML {
			s, err = loc.html(id, args, strong)
		} else {
			var t string
			t, err = loc.text(id, args)
			s = template.HTML(t)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	}
	plain := func(id string, args map[string]string) string {
		s, err := loc.text(id, args)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	}

	v := view{
		Lang:       loc.lang,
		Subject:    subject,
		Header:     in.header,
		Brand:      template.CSS(in.brand),
		ButtonText: template.CSS(TextColorOn(in.brand)),
		Intro:      msg(string(kind)+"_intro", in.full, true),
		Footer:     msg(spec.footer, in.full, false),
	}
	if in.name != "" {
		v.Greeting = msg("greeting", map[string]string{"Name": in.name}, false)
	} else {
		v.Greeting = msg("greeting_anonymous", nil, false)
	}
	if spec.message && in.message != "" {
		v.MessageHeading = msg("message_heading", in.full, true)
		v.Message = lines(in.message)
		v.QuotedMessage = quote(in.message)
	}
	if in.reason != "" {
		v.ReasonHeading = plain("reason_heading", nil)
		v.Reason = lines(in.reason)
		v.QuotedReason = quote(in.reason)
	}
	if spec.details {
		add := func(labelID, value string) {
			label := plain(labelID, nil)
			line := plain("detail_line", map[string]string{"Label": label, "Value": value})
			v.Details = append(v.Details, detail{Label: label, Value: value, Line: line})
		}
		if in.role != "" {
			add("detail_role", in.role)
		}
		if len(in.groups) > 0 {
			add("detail_groups", strings.Join(in.groups, ", "))
		}
		if in.admin {
			add("detail_admin", plain("detail_yes", nil))
		}
	}
	if in.link != "" {
		v.Link = in.link
		v.Button = plain(string(kind)+"_button", nil)
		v.LinkHint = plain("link_hint", nil)
		v.LinkLabel = plain("link_label", map[string]string{"Action": v.Button})
	}
	if !in.expires.IsZero() {
		date, err := loc.formatDate(in.expires)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		v.Expires = msg("expires", map[string]string{"Date": date}, true)
	}
	return v, firstErr
}

// lines escapes multi-line text for HTML and keeps its line breaks as <br>:
// unlike white-space:pre-line, <br> survives every email client.
func lines(s string) template.HTML {
	return template.HTML(strings.ReplaceAll(html.EscapeString(s), "\n", "<br>\n"))
}
