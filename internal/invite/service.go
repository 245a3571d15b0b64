package invite

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"usher/internal/account"
)

// Config holds the instance-wide choices the service applies.
type Config struct {
	// BaseURL is the public address invitees reach usher at; links are
	// BaseURL + "/i/" + token.
	BaseURL string
	// PersonalOrgs gives every new user an organization of their own.
	PersonalOrgs bool
	// OpenSignup lets people register without an invitation (password.go).
	OpenSignup bool
	// InvitesPerHour bounds the invitations an organization creates per
	// hour through Invite and InviteMany, on this instance (0: no limit;
	// ratelimit.go).
	InvitesPerHour int
}

// Service carries out every operation of the domain, checking the
// caller's rights first.
type Service struct {
	store  Store
	now    Clock
	hasher *account.Hasher
	tokens *Tokens
	cfg    Config
	log    *slog.Logger
	keys   sync.Map // API key hash → cachedKey
	// alone is the store, if it can create an invitation in one statement.
	alone AloneCreator
	// limit bounds invitations per organization and hour.
	limit *inviteLimiter

	// OnTransition, if set, is called after a committed status change
	// (for metrics).
	OnTransition func(from, to Status)
}

// New returns a Service.
func New(store Store, clock Clock, hasher *account.Hasher, tokens *Tokens, cfg Config, log *slog.Logger) *Service {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Service{store: store, now: clock, hasher: hasher, tokens: tokens, cfg: cfg, log: log,
		limit: &inviteLimiter{perHour: cfg.InvitesPerHour, orgs: map[string]*rate.Limiter{}}}
	s.alone, _ = store.(AloneCreator)
	return s
}

// Now returns the service's current time (UTC, microsecond precision, as
// stored).
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// LinkFor returns the accept URL for a token.
func (s *Service) LinkFor(token string) string { return s.cfg.BaseURL + "/i/" + token }

// SealAnswer seals an answer kept for Idempotency-Key replays under
// record (see Tokens.SealAnswer); OpenAnswer opens it.
func (s *Service) SealAnswer(answer []byte, record string) string {
	return s.tokens.SealAnswer(answer, record)
}

// OpenAnswer returns the answer SealAnswer sealed under record.
func (s *Service) OpenAnswer(kept, record string) ([]byte, error) {
	return s.tokens.OpenAnswer(kept, record)
}

// Actor is who makes a call: a signed-in user, or an API key acting for
// its creator within its organization.
type Actor struct {
	UserID        string
	Email         string
	Name          string // display name, where known
	InstanceAdmin bool
	// KeyOrgID is set for API keys: the one organization the key reaches,
	// with every permission in it.
	KeyOrgID string
	KeyID    string
}

// System is the actor of background work.
var System = Actor{}

func (a Actor) label() string {
	switch {
	case a.KeyID != "" && a.Email != "":
		return a.Email + " (API key)"
	case a.Email != "":
		return a.Email
	case a.UserID == "":
		return "system"
	}
	return a.UserID
}

// NewID returns a new time-ordered opaque id.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// maxConflictRetries bounds how often a unit of work is retried after a
// concurrent change got there first.
const maxConflictRetries = 4

// inTx runs fn in a transaction, running it again when the store reports a
// conflict: the second run re-reads what the concurrent change wrote, and
// so reports the domain's answer (already invited, already used).
func (s *Service) inTx(ctx context.Context, fn func(Tx) error) error {
	var err error
	for range maxConflictRetries {
		err = s.store.InTx(ctx, fn)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return &Error{Code: CodeConflict, Message: "a concurrent change got in the way; try again", Err: err}
}

// access loads the organization named slug and checks that actor may act
// in it with at least one of perms (none: any member). A missing
// organization and one the actor cannot see answer the same not_found.
func (s *Service) access(ctx context.Context, tx Tx, actor Actor, slug string, perms ...account.Permission) (*account.Organization, error) {
	notFound := errorf(CodeNotFound, "no such organization")
	org, err := tx.OrgBySlug(ctx, strings.ToLower(slug))
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	switch {
	case actor.KeyOrgID != "":
		if actor.KeyOrgID != org.ID {
			return nil, notFound
		}
		return org, nil
	case actor.InstanceAdmin:
		return org, nil
	case actor.UserID == "":
		return nil, errorf(CodeUnauthorized, "sign in first")
	}
	granted, err := s.permissions(ctx, tx, org.ID, actor.UserID)
	if err != nil {
		return nil, err
	}
	if granted == nil {
		return nil, notFound
	}
	if len(perms) == 0 {
		return org, nil
	}
	for _, p := range perms {
		if slices.Contains(granted, p) {
			return org, nil
		}
	}
	return nil, errorf(CodeForbidden, "you need the %s permission in this organization", perms[0])
}

// read runs fn with read access in the organization slug, once actor is
// known to hold one of perms there (none: any member).
func read[T any](ctx context.Context, s *Service, actor Actor, slug string, perms []account.Permission,
	fn func(Tx, *account.Organization) (T, error)) (T, error) {
	var out T
	err := s.store.View(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, perms...)
		if err != nil {
			return err
		}
		out, err = fn(tx, org)
		return err
	})
	return out, err
}

// permissions returns what userID may do in orgID; nil when they are not an
// active member.
func (s *Service) permissions(ctx context.Context, tx Tx, orgID, userID string) ([]account.Permission, error) {
	m, err := tx.Membership(ctx, orgID, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !m.Active {
		return nil, nil
	}
	roles, err := tx.Roles(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return permissionsOf(m, roles), nil
}

// permissionsOf is what the active membership m grants, among roles.
func permissionsOf(m *account.Membership, roles []account.Role) []account.Permission {
	granted := []account.Permission{}
	if m.Admin {
		granted = append(granted, account.AllPermissions...)
	}
	for _, r := range roles {
		if r.Name == m.Role {
			granted = append(granted, r.Permissions...)
		}
	}
	return granted
}

// Permissions returns what actor may do in the organization slug (every
// permission for API keys and instance admins).
func (s *Service) Permissions(ctx context.Context, actor Actor, slug string) ([]account.Permission, error) {
	var out []account.Permission
	err := s.store.View(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug)
		if err != nil {
			return err
		}
		if actor.KeyOrgID != "" || actor.InstanceAdmin {
			out = slices.Clone(account.AllPermissions)
			return nil
		}
		out, err = s.permissions(ctx, tx, org.ID, actor.UserID)
		return err
	})
	return out, err
}

// event records a transition and, after commit, the metrics hook sees it.
func (s *Service) event(ctx context.Context, tx Tx, inv *Invitation, typ string, from Status, actor Actor, detail string) error {
	return tx.AddEvent(ctx, s.newEvent(inv, typ, from, actor, detail))
}

// newEvent records inv's move from from to its current status.
func (s *Service) newEvent(inv *Invitation, typ string, from Status, actor Actor, detail string) *Event {
	return &Event{
		ID: NewID(), InvitationID: inv.ID, OrgID: inv.OrgID, At: s.Now(),
		Type: typ, From: from, To: inv.Status, ActorID: actor.UserID, Actor: actor.label(), Detail: detail,
	}
}

func (s *Service) transitioned(from, to Status) {
	if s.OnTransition != nil && from != to {
		s.OnTransition(from, to)
	}
}

func (s *Service) audit(ctx context.Context, tx Tx, orgID string, actor Actor, action, target, detail string) error {
	return tx.AddAudit(ctx, &AuditEntry{
		ID: NewID(), OrgID: orgID, At: s.Now(), ActorID: actor.UserID, Actor: actor.label(),
		Action: action, Target: target, Detail: detail,
	})
}

// CurrentLink rebuilds the accept link of inv's current token (for the
// mail worker); "" when inv has no token.
func (s *Service) CurrentLink(inv *Invitation) string {
	if inv.TokenNonce == "" {
		return ""
	}
	return s.LinkFor(s.tokens.Token(inv.ID, inv.TokenNonce))
}

// BaseURL is where usher is reached from outside.
func (s *Service) BaseURL() string { return s.cfg.BaseURL }
