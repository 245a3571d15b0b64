package account

import "time"

// User is an account: one person, identified by a normalized email.
type User struct {
	ID            string
	Email         string
	Username      string
	FirstName     string
	LastName      string
	Language      string
	PasswordHash  string // argon2id PHC string; "" for an account with no password
	InstanceAdmin bool
	CreatedAt     time.Time
}

// Name returns the user's display name: first and last name, or the email.
func (u *User) Name() string {
	return DisplayName(u.FirstName, u.LastName, u.Email)
}

// DisplayName joins first and last name, falling back to email.
func DisplayName(first, last, email string) string {
	switch {
	case first != "" && last != "":
		return first + " " + last
	case first != "":
		return first
	case last != "":
		return last
	}
	return email
}

// Organization is a tenant with its own members, groups, roles, settings
// and invitations.
type Organization struct {
	ID        string
	Slug      string
	Name      string
	Personal  bool // a user's own sandbox organization
	Settings  Settings
	CreatedAt time.Time
}

// Group is a named set of members in an organization.
type Group struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"-"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Membership is a user in an organization.
type Membership struct {
	OrgID     string
	UserID    string
	Role      string
	Admin     bool // admin rights regardless of role
	Active    bool // false: deactivated, keeps the record, loses access
	GroupIDs  []string
	CreatedAt time.Time
}

// Member is a membership joined with its user and group names, for listings.
type Member struct {
	Membership
	User   User
	Groups []string
}
