package account

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on an email address (RFC 5321 §4.5.3.1).
const (
	maxEmailLen  = 254
	maxLocalLen  = 64
	maxDomainLen = 253
	maxLabelLen  = 63
)

// EmailError says why a text is not an acceptable email address. Reason is
// a short English phrase meant for people ("missing @", "domain has no dot").
type EmailError struct {
	Input  string
	Reason string
}

func (e *EmailError) Error() string { return "invalid email address: " + e.Reason }

// ErrInvalidEmail is matched by every *EmailError with errors.Is.
var ErrInvalidEmail = errors.New("invalid email address")

// Is lets errors.Is(err, ErrInvalidEmail) match.
func (e *EmailError) Is(target error) bool { return target == ErrInvalidEmail }

// NormalizeEmail checks that s is one bare email address ("ana@example.com",
// no display name, no comments, no spaces) and returns its normalized form:
// trimmed and lowercased, which is usher's identity for a person.
//
// The rules are deliberately stricter than RFC 5322: quoted local parts,
// IP-literal domains and dotless domains are refused, because an invitation
// must reach a real mailbox and must never carry header-injection characters.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	fail := func(reason string) (string, error) { return "", &EmailError{Input: s, Reason: reason} }
	switch {
	case s == "":
		return fail("empty")
	case !utf8.ValidString(s):
		return fail("not valid UTF-8")
	case len(s) > maxEmailLen:
		return fail("longer than 254 characters")
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			return fail("contains a space")
		}
		if unicode.IsControl(r) {
			return fail("contains a control character")
		}
	}
	switch strings.Count(s, "@") {
	case 0:
		return fail("missing @")
	case 1:
	default:
		return fail("more than one @")
	}
	at := strings.IndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if reason := checkLocal(local); reason != "" {
		return fail(reason)
	}
	if reason := checkDomain(domain); reason != "" {
		return fail(reason)
	}
	return strings.ToLower(local) + "@" + strings.ToLower(domain), nil
}

// atext characters of RFC 5322 §3.2.3 besides letters and digits.
const localSpecials = "!#$%&'*+-/=?^_`{|}~"

func checkLocal(local string) string {
	switch {
	case local == "":
		return "nothing before @"
	case len(local) > maxLocalLen:
		return "part before @ is longer than 64 characters"
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, "."):
		return "part before @ starts or ends with a dot"
	case strings.Contains(local, ".."):
		return "two dots in a row"
	}
	for _, r := range local {
		switch {
		case r == '.':
		case r < utf8.RuneSelf && (isASCIILetter(r) || isDigit(r) || strings.ContainsRune(localSpecials, r)):
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
			// RFC 6531 internationalized local parts.
		default:
			return "character " + quoteRune(r) + " is not allowed"
		}
	}
	return ""
}

func checkDomain(domain string) string {
	switch {
	case domain == "":
		return "nothing after @"
	case len(domain) > maxDomainLen:
		return "domain is too long"
	case !strings.Contains(domain, "."):
		return "domain has no dot"
	}
	labels := strings.Split(domain, ".")
	for _, label := range labels {
		switch {
		case label == "":
			return "domain has an empty part"
		case len(label) > maxLabelLen:
			return "a domain part is longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "a domain part starts or ends with a hyphen"
		}
		for _, r := range label {
			if r == '-' || isDigit(r) || isASCIILetter(r) || (r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r))) {
				continue
			}
			return "character " + quoteRune(r) + " is not allowed in the domain"
		}
	}
	tld := labels[len(labels)-1]
	for _, r := range tld {
		if isDigit(r) {
			return "domain ends in a number"
		}
	}
	return ""
}

// EmailDomain returns the part after the last @ of a normalized address.
func EmailDomain(email string) string {
	return email[strings.LastIndexByte(email, '@')+1:]
}

func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isDigit(r rune) bool       { return r >= '0' && r <= '9' }

func quoteRune(r rune) string {
	if r == '"' {
		return `'"'`
	}
	return `"` + string(r) + `"`
}

// SplitEmailList splits what a person pasted into an invite box into
// separate entries: commas, semicolons, spaces and new lines all separate,
// and empty entries are dropped. Entries are returned as typed (not yet
// validated), so that an invalid one can be reported as the person wrote it.
func SplitEmailList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || unicode.IsSpace(r)
	})
}
