package bulk

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"usher/internal/account"
)

// Outcome is what an import would do with one row (api.md, import outcomes).
type Outcome string

// The outcomes. Checker.Check decides ok, invalid_email, invalid_value and
// unknown_group, Duplicates.Mark decides duplicate; the caller, which has
// the database, turns an ok row into already_invited, already_member or
// existing_user.
const (
	OutcomeOK             Outcome = "ok"
	OutcomeInvalidEmail   Outcome = "invalid_email"
	OutcomeDuplicate      Outcome = "duplicate"
	OutcomeAlreadyInvited Outcome = "already_invited"
	OutcomeAlreadyMember  Outcome = "already_member"
	OutcomeExistingUser   Outcome = "existing_user"
	OutcomeUnknownGroup   Outcome = "unknown_group"
	OutcomeInvalidValue   Outcome = "invalid_value"
)

// Length limits on values, in characters.
const (
	MaxNameLen     = 100
	MaxLanguageLen = 35 // the longest BCP 47 tag anyone needs (RFC 5646 §4.4.1)
	maxGroups      = 100
)

// Row is one record after Check: the values an invitation would get, and
// the outcome. Values are the file's where given, else the Defaults.
type Row struct {
	Line      int
	Email     string // normalized if valid, else as typed
	FirstName string
	LastName  string
	Language  string // normalized BCP 47 ("nl-BE") if valid, else as typed
	Role      string // the organization's spelling if known, else as typed
	// Groups are split on "," or ";", trimmed, de-duplicated ignoring case
	// and spelled as the organization spells them. Rows may share the
	// slice: treat it as read-only.
	Groups []string
	// Admin is the file's admin value; nil when the file does not give one.
	Admin *bool
	// IsAdmin is what the invitation grants: Admin if given, else
	// Defaults.Admin.
	IsAdmin bool
	Outcome Outcome
	// Detail says why the outcome is not ok: the email's problem ("missing
	// @"), "duplicate of row 4", `invalid value for admin: "maybe"`,
	// `unknown group "Foo"`.
	Detail string
	// Spill is set by Duplicates.Mark on the first row with its address
	// when memory had no room left for the address: the caller must keep
	// the row where Mark's lookup finds it.
	Spill bool
}

// Defaults are the options chosen with the upload. A value in the file
// overrides them for its row; an empty cell does not.
type Defaults struct {
	Language string
	Role     string
	Groups   []string
	Admin    bool
}

// Checker validates rows one at a time; finding duplicates, which needs
// the rows before, is Duplicates' job. It is not safe for concurrent use.
type Checker struct {
	d      Defaults
	roles  map[string]string // lowercased → the organization's spelling
	groups map[string]string

	// A file repeats a few languages and group lists on every row;
	// remembering them saves most of the checking time. Bounded, so that a
	// file of all-different values costs no more than no cache at all.
	langs     map[string]string // value → normalized tag, "" if invalid
	groupSets map[string]groupSet

	withheld      map[string]bool // roles the uploader may not give (lowercased)
	withheldAdmin bool            // the admin flag, likewise
}

type groupSet struct{ groups, unknown []string }

const maxCached = 1024

// NewChecker returns a Checker for an organization with the given roles
// and groups (matched ignoring case). The defaults are trusted, since the
// form that chose them offered only valid values; they are only put in the
// same canonical spelling as file values.
func NewChecker(d Defaults, roles []string, groups []string) *Checker {
	c := &Checker{
		roles: foldMap(roles), groups: foldMap(groups),
		langs: make(map[string]string), groupSets: make(map[string]groupSet),
	}
	if tag, ok := parseLanguage(d.Language); ok {
		d.Language = tag
	}
	if r, ok := c.roles[strings.ToLower(d.Role)]; ok {
		d.Role = r
	}
	d.Groups, _ = c.splitGroups(d.Groups)
	c.d = d
	return c
}

// Withhold marks roles (of the organization) and, with admin, the admin
// flag as rights the uploader may not give: a row of the file that gives
// them is invalid. (The defaults were checked with the upload.)
func (c *Checker) Withhold(roles []string, admin bool) {
	c.withheld = make(map[string]bool, len(roles))
	for _, r := range roles {
		c.withheld[strings.ToLower(r)] = true
	}
	c.withheldAdmin = admin
}

func foldMap(names []string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		if _, dup := m[strings.ToLower(n)]; !dup {
			m[strings.ToLower(n)] = n
		}
	}
	return m
}

// Check validates one record and applies the defaults. When a row has
// several problems, the outcome is the first of invalid_email,
// invalid_value, unknown_group (Duplicates.Mark puts duplicate after
// invalid_email); all invalid values are named together so that one
// correction fixes the row.
func (c *Checker) Check(rec Record) Row {
	f := &rec.Fields
	row := Row{
		Line:      rec.Line,
		Email:     f[ColEmail],
		FirstName: f[ColFirstName],
		LastName:  f[ColLastName],
		Language:  c.d.Language,
		Role:      c.d.Role,
		Groups:    c.d.Groups,
		IsAdmin:   c.d.Admin,
		Outcome:   OutcomeOK,
	}
	var bad []string
	bad = checkName(bad, ColFirstName, row.FirstName)
	bad = checkName(bad, ColLastName, row.LastName)
	if rec.Present.Has(ColLanguage) {
		row.Language = f[ColLanguage]
		switch tag, ok := c.language(row.Language); {
		case ok:
			row.Language = tag
		case utf8.RuneCountInString(row.Language) > MaxLanguageLen:
			bad = append(bad, fmt.Sprintf("invalid value for language: longer than %d characters", MaxLanguageLen))
		default:
			bad = append(bad, fmt.Sprintf("invalid value for language: %s (use a language code such as \"en\" or \"nl-BE\")", quote(row.Language)))
		}
	}
	if rec.Present.Has(ColRole) {
		row.Role = f[ColRole]
		if r, ok := c.roles[strings.ToLower(row.Role)]; ok {
			row.Role = r
			if c.withheld[strings.ToLower(r)] {
				bad = append(bad, fmt.Sprintf("invalid value for role: you cannot give the role %s (it grants permissions you do not hold)", quote(r)))
			}
		} else {
			bad = append(bad, fmt.Sprintf("invalid value for role: %s is not a role of this organization", quote(row.Role)))
		}
	}
	if rec.Present.Has(ColAdmin) {
		if v, ok := parseBool(f[ColAdmin]); ok {
			row.Admin = &v
			row.IsAdmin = v
			if v && c.withheldAdmin {
				bad = append(bad, "invalid value for admin: you cannot give the admin flag (it grants every permission, and you do not hold them all)")
			}
		} else {
			bad = append(bad, fmt.Sprintf("invalid value for admin: %s (use true or false, yes or no, 1 or 0)", quote(f[ColAdmin])))
		}
	}
	var unknown []string
	if rec.Present.Has(ColGroups) {
		gs, ok := c.groupList(f[ColGroups])
		if ok {
			row.Groups, unknown = gs.groups, gs.unknown
		} else {
			bad = append(bad, fmt.Sprintf("invalid value for groups: more than %d groups", maxGroups))
		}
	}

	email, err := account.NormalizeEmail(row.Email)
	if err != nil {
		row.Outcome, row.Detail = OutcomeInvalidEmail, emailReason(err)
		return row
	}
	row.Email = email
	switch {
	case len(bad) > 0:
		row.Outcome, row.Detail = OutcomeInvalidValue, strings.Join(bad, "; ")
	case len(unknown) == 1:
		row.Outcome, row.Detail = OutcomeUnknownGroup, "unknown group "+quote(unknown[0])
	case len(unknown) > 1:
		q := make([]string, len(unknown))
		for i, g := range unknown {
			q[i] = quote(g)
		}
		row.Outcome, row.Detail = OutcomeUnknownGroup, "unknown groups "+strings.Join(q, ", ")
	}
	return row
}

func emailReason(err error) string {
	var ee *account.EmailError
	if errors.As(err, &ee) {
		return ee.Reason
	}
	return err.Error()
}

// checkName refuses overlong names and control characters: a name ends up
// in emails, and a line break in one is always a mistake in the file.
func checkName(bad []string, c Column, name string) []string {
	if utf8.RuneCountInString(name) > MaxNameLen {
		return append(bad, fmt.Sprintf("invalid value for %s: longer than %d characters", c, MaxNameLen))
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return append(bad, fmt.Sprintf("invalid value for %s: contains a line break or another control character", c))
	}
	return bad
}

// language is parseLanguage, remembered.
func (c *Checker) language(s string) (string, bool) {
	if tag, ok := c.langs[s]; ok {
		return tag, tag != ""
	}
	tag, ok := parseLanguage(s)
	if len(c.langs) < maxCached {
		c.langs[s] = tag
	}
	return tag, ok
}

// groupList splits and resolves a groups cell, remembered; ok is false
// when the cell names more than maxGroups groups.
func (c *Checker) groupList(s string) (gs groupSet, ok bool) {
	if gs, ok := c.groupSets[s]; ok {
		return gs, true
	}
	parts := splitList(s)
	if len(parts) > maxGroups {
		return gs, false
	}
	gs.groups, gs.unknown = c.splitGroups(parts)
	if len(c.groupSets) < maxCached {
		c.groupSets[s] = gs
	}
	return gs, true
}

// parseLanguage accepts a well-formed BCP 47 tag with a known language
// ("nl_be" too) and returns it normalized ("nl-BE"). "und" and private-use
// tags are refused: an invitation needs a language to be written in.
func parseLanguage(s string) (string, bool) {
	if s == "" || len(s) > MaxLanguageLen {
		return "", false
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	if _, conf := tag.Base(); conf != language.Exact {
		return "", false
	}
	return tag.String(), true
}

// boolWords are the admin values accepted, ignoring case: English, the
// Dutch, French and German words people type, and what Excel writes for
// TRUE and FALSE when it saves CSV in those languages.
var boolWords = []struct {
	word string
	v    bool
}{
	{"true", true}, {"false", false},
	{"yes", true}, {"no", false},
	{"y", true}, {"n", false},
	{"1", true}, {"0", false},
	{"ja", true}, {"nee", false}, {"nein", false},
	{"oui", true}, {"non", false},
	{"waar", true}, {"onwaar", false},
	{"vrai", true}, {"faux", false},
	{"wahr", true}, {"falsch", false},
}

func parseBool(s string) (v, ok bool) {
	for _, w := range boolWords {
		if strings.EqualFold(s, w.word) {
			return w.v, true
		}
	}
	return false, false
}

// splitList splits a groups cell on commas and semicolons.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' })
}

// splitGroups trims the names, drops empty ones and repeats (ignoring
// case), and spells known groups as the organization does; unknown
// returns the names the organization does not have.
func (c *Checker) splitGroups(parts []string) (groups, unknown []string) {
	groups = make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		g, known := c.groups[strings.ToLower(p)]
		if !known {
			g = p
		}
		if slices.ContainsFunc(groups, func(h string) bool { return strings.EqualFold(h, g) }) {
			continue
		}
		groups = append(groups, g)
		if !known {
			unknown = append(unknown, g)
		}
	}
	return slices.Clip(groups), unknown
}

// quote quotes a value for a Detail, shortened so that a runaway cell does
// not make a runaway message.
func quote(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
