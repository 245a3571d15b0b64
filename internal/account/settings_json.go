package account

import (
	"bytes"
	"encoding/json"
	"time"
)

// settingsJSON is the settings' wire and storage shape (api.md): durations
// in seconds.
type settingsJSON struct {
	InvitationTTL    int64    `json:"invitation_ttl"`
	ReminderSchedule []int64  `json:"reminder_schedule"`
	AutoApproval     bool     `json:"auto_approval"`
	AddExistingUsers bool     `json:"add_existing_users"`
	AllowedDomains   []string `json:"allowed_domains"`
	DefaultLanguage  string   `json:"default_language"`
	RedirectURL      string   `json:"redirect_url"`
	PasswordPolicy   string   `json:"password_policy"`
	BrandColor       string   `json:"brand_color"`
}

// MarshalJSON writes the settings in their API shape.
func (s Settings) MarshalJSON() ([]byte, error) {
	j := settingsJSON{
		InvitationTTL: int64(s.InvitationTTL / time.Second), ReminderSchedule: []int64{},
		AutoApproval: s.AutoApproval, AddExistingUsers: s.AddExistingUsers, AllowedDomains: s.AllowedDomains,
		DefaultLanguage: s.DefaultLanguage, RedirectURL: s.RedirectURL, PasswordPolicy: string(s.PasswordPolicy),
		BrandColor: s.BrandColor,
	}
	if j.AllowedDomains == nil {
		j.AllowedDomains = []string{}
	}
	for _, d := range s.ReminderSchedule {
		j.ReminderSchedule = append(j.ReminderSchedule, int64(d/time.Second))
	}
	return json.Marshal(j)
}

// UnmarshalJSON applies the fields present in b over s, so that decoding a
// partial document onto current settings is a PATCH. Unknown fields are
// refused.
func (s *Settings) UnmarshalJSON(b []byte) error {
	cur, err := s.MarshalJSON()
	if err != nil {
		return err
	}
	var j settingsJSON
	if err := json.Unmarshal(cur, &j); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	s.InvitationTTL = time.Duration(j.InvitationTTL) * time.Second
	s.ReminderSchedule = nil
	for _, sec := range j.ReminderSchedule {
		s.ReminderSchedule = append(s.ReminderSchedule, time.Duration(sec)*time.Second)
	}
	s.AutoApproval, s.AddExistingUsers, s.AllowedDomains = j.AutoApproval, j.AddExistingUsers, j.AllowedDomains
	s.DefaultLanguage, s.RedirectURL = j.DefaultLanguage, j.RedirectURL
	s.PasswordPolicy, s.BrandColor = PasswordPolicy(j.PasswordPolicy), j.BrandColor
	return nil
}
