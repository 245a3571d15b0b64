package invite

import (
	"context"
	"time"

	"usher/internal/account"
)

// Store runs units of work against the database. The sqlstore package
// implements it for SQLite and PostgreSQL.
type Store interface {
	// InTx runs fn in one read-write transaction: committed if fn returns
	// nil, rolled back otherwise.
	InTx(ctx context.Context, fn func(Tx) error) error
	// View runs fn with read access outside any write transaction.
	View(ctx context.Context, fn func(Tx) error) error
}

// AloneCreator is a Store that can create an invitation, with its created
// event and its email, in one atomic statement outside a transaction: one
// round trip instead of four on PostgreSQL. The organization comes from
// the store's memory of it, and the statement writes nothing unless the
// organization is still as remembered, the address has no account and no
// live invitation in it (answering ErrConflict or ErrUserExists).
type AloneCreator interface {
	CachedOrg(slug string) (*account.Organization, bool)
	CreateInvitationAlone(ctx context.Context, org *account.Organization, inv *Invitation, ev *Event, mail *Email) error
}

// Tx is what the service does with storage. Methods return ErrNotFound for
// a missing row and ErrConflict for a unique or version clash.
type Tx interface {
	UserStore
	OrgStore
	InvitationStore

	// EnqueueEmail records that an email is due (the email seam).
	EnqueueEmail(ctx context.Context, e *Email) error
	// AddAudit records an administrative action.
	AddAudit(ctx context.Context, a *AuditEntry) error
	// ImportStore holds import batches (import.go).
	ImportStore
	// WebStore holds password resets and sign-up links (password.go).
	WebStore
	// WebhookStore holds webhook endpoints and their messages (webhooks.go).
	WebhookStore
	// ProfileStore holds members' profiles (profile.go).
	ProfileStore
}

// UserStore holds accounts, sessions and API keys.
type UserStore interface {
	UserByID(ctx context.Context, id string) (*account.User, error)
	UserByEmail(ctx context.Context, email string) (*account.User, error)
	UserByUsername(ctx context.Context, username string) (*account.User, error)
	InsertUser(ctx context.Context, u *account.User) error
	UpdateUser(ctx context.Context, u *account.User) error
	CountUsers(ctx context.Context) (int, error)

	InsertAPIKey(ctx context.Context, k *APIKey) error
	APIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	// APIKeys lists an organization's keys that are not revoked.
	APIKeys(ctx context.Context, orgID string) ([]APIKey, error)
	// RevokeAPIKey stops a key from working (ErrNotFound if it does not).
	RevokeAPIKey(ctx context.Context, orgID, id string, at time.Time) error
}

// OrgStore holds organizations, roles, groups and memberships.
type OrgStore interface {
	OrgByID(ctx context.Context, id string) (*account.Organization, error)
	OrgBySlug(ctx context.Context, slug string) (*account.Organization, error)
	InsertOrg(ctx context.Context, o *account.Organization) error
	UpdateOrg(ctx context.Context, o *account.Organization) error
	OrgsOfUser(ctx context.Context, userID string) ([]account.Organization, error)

	Roles(ctx context.Context, orgID string) ([]account.Role, error)
	RoleStore

	Groups(ctx context.Context, orgID string) ([]account.Group, error)
	InsertGroup(ctx context.Context, g *account.Group) error
	DeleteGroup(ctx context.Context, orgID, id string) error

	Membership(ctx context.Context, orgID, userID string) (*account.Membership, error)
	PutMembership(ctx context.Context, m *account.Membership) error
	DeleteMembership(ctx context.Context, orgID, userID string) error
	Members(ctx context.Context, orgID string) ([]account.Member, error)
	// Approvers lists the active members holding perm through their role or
	// the admin flag.
	UsersWithPermission(ctx context.Context, orgID string, perm account.Permission) ([]account.User, error)
}

// InvitationStore holds invitations, their token history and events.
type InvitationStore interface {
	// InsertInvitation returns ErrConflict when the organization already
	// has a live invitation for the email.
	InsertInvitation(ctx context.Context, inv *Invitation) error
	// CreateInvitation inserts inv together with ev, the event recording
	// its creation, and mail (nil for none), in one statement where the
	// engine allows; none of them is written when InsertInvitation would
	// answer ErrConflict. With newEmail set, nothing is written either
	// when an account has inv's email: the answer is then ErrUserExists.
	CreateInvitation(ctx context.Context, inv *Invitation, ev *Event, mail *Email, newEmail bool) error
	// UpdateInvitation writes inv if its Version is still the stored one,
	// and increments Version; ErrConflict otherwise (or when the change
	// would make a second live invitation for the email).
	UpdateInvitation(ctx context.Context, inv *Invitation) error
	Invitation(ctx context.Context, orgID, id string) (*Invitation, error)
	// InvitationByTokenHash finds the invitation a token was ever issued
	// for; current says whether it is still its live link.
	InvitationByTokenHash(ctx context.Context, hash string) (inv *Invitation, current bool, err error)
	// AddTokenHash remembers a token an invitation no longer answers to,
	// so that superseded links can be told apart from unknown ones.
	AddTokenHash(ctx context.Context, hash, invitationID string, at time.Time) error
	LiveInvitation(ctx context.Context, orgID, email string) (*Invitation, error)
	ListInvitations(ctx context.Context, f ListFilter) (*Page, error)
	// DueForExpiry lists pending invitations whose expiry passed.
	DueForExpiry(ctx context.Context, now time.Time, limit int) ([]*Invitation, error)
	// DueForReminder lists pending, unexpired invitations sent at least
	// minAge ago, oldest first, for the reminder sweep to check.
	DueForReminder(ctx context.Context, now time.Time, minAge time.Duration, limit int, afterID string) ([]*Invitation, error)

	AddEvent(ctx context.Context, e *Event) error
	Events(ctx context.Context, invitationID string) ([]Event, error)
	Audit(ctx context.Context, orgID string, limit int, before string) ([]AuditEntry, error)
}

// APIKey authenticates an integrating application within one organization.
type APIKey struct {
	ID        string
	OrgID     string
	UserID    string // who created it; the inviter of what it invites
	Name      string
	Prefix    string // first characters, to recognize the key in lists
	Hash      string
	CreatedAt time.Time
	CreatedBy string // UserID's email, in lists
}

// ListFilter selects and orders invitations.
type ListFilter struct {
	OrgID    string
	Now      time.Time // for effective statuses
	Statuses []Status  // effective statuses; none: all
	Query    string    // part of the email or name, case-insensitive
	ImportID string
	Sort     string // created_at, -created_at, email, -email, expires_at, -expires_at
	Limit    int
	After    *Cursor
}

// Cursor marks a position in a sorted listing: the sort key and id of the
// last row seen.
type Cursor struct {
	Key string `json:"k"`
	ID  string `json:"i"`
}

// CountCap is where a listing stops counting its matches: past it, Total
// is CountCap and TotalCapped is set ("10,000+").
const CountCap = 10000

// Page is one page of a listing.
type Page struct {
	Items       []*Invitation
	Next        *Cursor
	Total       int
	TotalCapped bool
}

// Clock tells the time; tests move it instead of sleeping.
type Clock func() time.Time

// WebStore holds what the pages need beyond invitations: password resets
// and sign-up links, and the live invitations of an address.
type WebStore interface {
	InsertPasswordReset(ctx context.Context, p *PasswordReset) error
	PasswordReset(ctx context.Context, id string) (*PasswordReset, error)
	PasswordResetByHash(ctx context.Context, hash string) (*PasswordReset, error)
	// CountPasswordResets counts the links issued for email since.
	CountPasswordResets(ctx context.Context, email string, since time.Time) (int, error)
	// UsePasswordResets marks every unused link of email used at.
	UsePasswordResets(ctx context.Context, email string, at time.Time) error
	// LiveInvitationsByEmail lists email's live invitations in every
	// organization.
	LiveInvitationsByEmail(ctx context.Context, email string) ([]*Invitation, error)
}
