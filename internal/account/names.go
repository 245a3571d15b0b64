package account

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Username limits.
const (
	MinUsernameLen = 2
	MaxUsernameLen = 32
)

// UsernameFromEmail proposes a username from an email's local part:
// lowercased, with "+tags" dropped, letters spelt without their accents
// ("jürgen" → "jurgen", "straße" → "strasse"), and every run of other
// characters than a–z, 0–9, "." and "_" turned into one "-"
// ("Ana.Silva+x@…" → "ana.silva"). What is too short gets "user": "x@…"
// → "x-user", and a local part with nothing usable → "user".
func UsernameFromEmail(email string) string {
	local := email
	if at := strings.LastIndexByte(email, '@'); at >= 0 {
		local = email[:at]
	}
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	name := sanitize(unaccent(strings.ToLower(local)), "._")
	if len(name) > MaxUsernameLen {
		name = strings.TrimRight(name[:MaxUsernameLen], "-._")
	}
	switch {
	case name == "":
		name = "user"
	case len(name) < MinUsernameLen:
		name += "-user"
	}
	return name
}

// noDecomposition spells the Latin letters that Unicode does not write as
// a base letter and an accent the way they are usually written in ASCII.
var noDecomposition = strings.NewReplacer("ß", "ss", "æ", "ae", "ø", "o", "œ", "oe", "ł", "l", "đ", "d",
	"ð", "d", "þ", "th", "ı", "i")

// unaccent drops accents (combining marks after canonical decomposition)
// and spells the letters of noDecomposition in ASCII; other characters
// are kept.
func unaccent(s string) string {
	if isASCII(s) {
		return s // nothing to drop (and the transform costs ~10 µs a call)
	}
	out, _, err := transform.String(transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn))), s)
	if err != nil {
		out = s
	}
	return noDecomposition.Replace(out)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// CheckUsername returns why u is not an acceptable username ("" if it is).
func CheckUsername(u string) string {
	n := utf8.RuneCountInString(u)
	switch {
	case n < MinUsernameLen || n > MaxUsernameLen:
		return "must be 2 to 32 characters"
	case u != strings.ToLower(u):
		return "must be lowercase"
	}
	for i, r := range u {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)
		if !ok {
			return "may contain only a-z, 0-9, dot, underscore and hyphen"
		}
		if (i == 0 || i == len(u)-1) && !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return "must start and end with a letter or digit"
		}
	}
	return ""
}

// Slug derives an organization's slug from its name: lowercased, every run
// of characters other than a–z and 0–9 replaced by one "-", trimmed of "-"
// ("Acme Corp" → "acme-corp"). An empty result becomes "org".
func Slug(name string) string {
	s := sanitize(strings.ToLower(name), "")
	if len(s) > 48 {
		s = strings.TrimRight(s[:48], "-")
	}
	if s == "" {
		return "org"
	}
	return s
}

// WithSuffix returns base with a numeric suffix for the n-th clash (n ≥ 2):
// "acme" → "acme-2".
func WithSuffix(base string, n int) string {
	return base + "-" + strconv.Itoa(n)
}

// sanitize keeps a–z, 0–9 and the runes in keep, turning every other run
// into one "-", and trims "-" and keep-runes from both ends.
func sanitize(s, keep string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune(keep, r) {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-"+keep)
}
