package invite

import (
	"encoding/json"
	"time"
)

// Source says how an invitation was made.
const (
	SourceAPI    = "api"
	SourceUI     = "ui"
	SourceImport = "import"
	SourceCLI    = "cli"
)

// Delivery states of an invitation's latest email.
const (
	DeliveryNone   = "none"
	DeliveryQueued = "queued"
	DeliverySent   = "sent"
	DeliveryFailed = "failed"
)

// Invitation is one person invited to one organization (product.md §2).
type Invitation struct {
	ID        string
	OrgID     string
	Email     string // normalized
	FirstName string
	LastName  string
	Username  string // proposed username for a new account
	Language  string // BCP 47, "" = the organization's default
	Role      string
	GroupIDs  []string
	Groups    []string // names of GroupIDs, filled on reads
	Admin     bool
	Message   string

	Status    Status // as stored; see EffectiveStatus
	InviterID string
	Inviter   Person // filled on reads
	Source    string
	ImportID  string

	CreatedAt time.Time
	UpdatedAt time.Time
	SentAt    time.Time // zero: never sent
	SendCount int
	ExpiresAt time.Time
	// RemindedSteps is how many steps of the reminder schedule were sent
	// for the current sending.
	RemindedSteps  int
	AcceptedAt     time.Time
	AcceptedUserID string
	ExternalUserID string // headless redeem: the application's own user id
	DecidedAt      time.Time
	DecidedBy      string
	RevokedAt      time.Time

	DeliveryStatus string
	DeliveryError  string
	DeliveredAt    time.Time

	RedirectURL string
	Metadata    json.RawMessage

	// TokenHash and TokenNonce identify the current link; empty for a
	// draft that was never sent.
	TokenHash  string
	TokenNonce string

	// Version counts writes, for optimistic concurrency.
	Version int
}

// Person is a user reduced to what other people may see of them.
type Person struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// StatusAt returns the invitation's effective status at now.
func (inv *Invitation) StatusAt(now time.Time) Status {
	return EffectiveStatus(inv.Status, inv.ExpiresAt, now)
}

// Event is one transition or notable action in an invitation's history.
type Event struct {
	ID           string    `json:"-"`
	InvitationID string    `json:"-"`
	OrgID        string    `json:"-"`
	At           time.Time `json:"at"`
	Type         string    `json:"type"`
	From         Status    `json:"from"`
	To           Status    `json:"to"`
	ActorID      string    `json:"-"`
	Actor        string    `json:"actor"` // who, for people: an email, "system", "invitee"
	Detail       string    `json:"detail,omitempty"`
}

// AuditEntry is one administrative action in an organization.
type AuditEntry struct {
	ID      string    `json:"id"`
	OrgID   string    `json:"-"`
	At      time.Time `json:"at"`
	ActorID string    `json:"-"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Detail  string    `json:"detail,omitempty"`
}

// Email is a message due to be sent: written in the same transaction as
// the change that causes it, delivered later by the mail worker.
type Email struct {
	ID           string
	OrgID        string
	Kind         string // mail.Kind
	InvitationID string // "" for mail not about one invitation
	UserID       string // recipient user, where there is one
	To           string
	DueAt        time.Time
	// Data carries what the message needs beyond the rows it refers to
	// (a reset token's id, a rejection note). Never a bearer secret.
	Data json.RawMessage
}

// Mail kinds written by the service; the mail package renders them.
const (
	MailInvitation     = "invitation"
	MailReminder       = "reminder"
	MailAccepted       = "accepted"
	MailApprovalNeeded = "approval_needed"
	MailApproved       = "approved"
	MailRejected       = "rejected"
	MailPasswordReset  = "password_reset"
	MailExpired        = "expired"
	MailLinkRequested  = "link_requested"
)
