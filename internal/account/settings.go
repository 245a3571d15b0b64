package account

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Bounds on an invitation's validity (product.md §3).
const (
	MinInvitationTTL     = time.Hour
	MaxInvitationTTL     = 365 * 24 * time.Hour
	DefaultInvitationTTL = 7 * 24 * time.Hour
	DefaultReminderAfter = 3 * 24 * time.Hour
	maxReminderSteps     = 10
	maxAllowedDomains    = 100
	maxURLLen            = 2048
)

// DefaultBrandColor is usher's own accent colour.
const DefaultBrandColor = "#4f46e5"

// Settings are an organization's choices (api.md, settings).
type Settings struct {
	InvitationTTL    time.Duration   // how long a link works
	ReminderSchedule []time.Duration // reminders, as offsets after sending
	AutoApproval     bool            // false: an approver decides after registration
	AddExistingUsers bool            // registered users become members at once
	AllowedDomains   []string        // if any, only these email domains may be invited
	DefaultLanguage  string          // BCP 47
	RedirectURL      string          // where invitees land after accepting
	PasswordPolicy   PasswordPolicy
	BrandColor       string // #rrggbb
}

// DefaultSettings are a new organization's settings.
func DefaultSettings() Settings {
	return Settings{
		InvitationTTL:    DefaultInvitationTTL,
		ReminderSchedule: []time.Duration{DefaultReminderAfter},
		AutoApproval:     true,
		DefaultLanguage:  "en",
		PasswordPolicy:   PolicyNIST,
		BrandColor:       DefaultBrandColor,
	}
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// FieldError names one invalid field and why.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Validate checks s and normalizes it in place (lowercase domains and
// colour, canonical language tag, sorted unique schedule).
func (s *Settings) Validate() []FieldError {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{field, "invalid", msg}) }
	if s.InvitationTTL < MinInvitationTTL || s.InvitationTTL > MaxInvitationTTL {
		add("invitation_ttl", "must be between 1 hour and 365 days (3600 to 31536000 seconds)")
	}
	if len(s.ReminderSchedule) > maxReminderSteps {
		add("reminder_schedule", fmt.Sprintf("at most %d reminders", maxReminderSteps))
	}
	for _, d := range s.ReminderSchedule {
		if d < time.Minute || d > MaxInvitationTTL {
			add("reminder_schedule", "each reminder must come between 60 seconds and 365 days after sending")
			break
		}
	}
	slices.Sort(s.ReminderSchedule)
	s.ReminderSchedule = slices.Compact(s.ReminderSchedule)
	if len(s.AllowedDomains) > maxAllowedDomains {
		add("allowed_domains", fmt.Sprintf("at most %d domains", maxAllowedDomains))
	}
	for i, d := range s.AllowedDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if reason := checkDomain(d); reason != "" {
			add("allowed_domains", fmt.Sprintf("%q: %s", d, reason))
		}
		s.AllowedDomains[i] = d
	}
	slices.Sort(s.AllowedDomains)
	s.AllowedDomains = slices.Compact(s.AllowedDomains)
	if tag, err := CanonicalLanguage(s.DefaultLanguage); err != nil || tag == "" {
		add("default_language", "must be a language tag such as en, nl or nl-BE")
	} else {
		s.DefaultLanguage = tag
	}
	if s.RedirectURL != "" {
		if msg := CheckURL(s.RedirectURL); msg != "" {
			add("redirect_url", msg)
		}
	}
	if !s.PasswordPolicy.Valid() {
		add("password_policy", `must be "nist" or "strict"`)
	}
	if !hexColor.MatchString(s.BrandColor) {
		add("brand_color", "must be a colour like #4f46e5")
	}
	s.BrandColor = strings.ToLower(s.BrandColor)
	return errs
}

// DomainAllowed reports whether email's domain may be invited under s.
func (s *Settings) DomainAllowed(email string) bool {
	if len(s.AllowedDomains) == 0 {
		return true
	}
	_, found := slices.BinarySearch(s.AllowedDomains, EmailDomain(email))
	return found
}

// CanonicalLanguage parses a BCP 47 tag and returns its canonical form
// ("NL-be" → "nl-BE"); "" stays "".
func CanonicalLanguage(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > 35 {
		return "", fmt.Errorf("account: language tag too long")
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", fmt.Errorf("account: language %q: %w", s, err)
	}
	return tag.String(), nil
}

// CheckURL returns why s is not an acceptable absolute http(s) URL ("" if it is).
func CheckURL(s string) string {
	if len(s) > maxURLLen {
		return "must be at most 2048 characters"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an absolute http or https URL"
	}
	if u.User != nil {
		return "must not contain a user name or password"
	}
	return ""
}
