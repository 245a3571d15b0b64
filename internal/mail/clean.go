package mail

import (
	"errors"
	"net/url"
	"strings"
	"unicode"
)

// oneLine makes a user-supplied value safe for a line of its own (a subject,
// a name in a sentence): control characters, CR and LF included, become
// spaces, runs of spaces collapse, and bidirectional overrides (used to make
// a name display as something else) are dropped.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case isBidiControl(r):
			continue
		case unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029':
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// multiLine cleans free text that may span lines (the personal message):
// line breaks are normalized to \n, other control characters and bidi
// overrides are dropped, trailing spaces and surrounding blank lines go.
func multiLine(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		line = strings.Map(func(r rune) rune {
			if r == '\t' {
				return ' '
			}
			if unicode.IsControl(r) || isBidiControl(r) {
				return -1
			}
			return r
		}, line)
		lines[i] = strings.TrimRightFunc(line, unicode.IsSpace)
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') || r == '\u200E' || r == '\u200F'
}

// errBadLink is returned for a link that is not an absolute http(s) URL; a
// javascript: or relative link in an email is a bug or an attack.
var errBadLink = errors.New("link must be an absolute http or https URL")

func checkLink(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errBadLink
	}
	return raw, nil
}

// quote prefixes every line with "> ", the plain-text convention for quoted
// text.
func quote(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if line == "" {
			lines[i] = ">"
		} else {
			lines[i] = "> " + line
		}
	}
	return strings.Join(lines, "\n")
}
