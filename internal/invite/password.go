package invite

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"usher/internal/account"
)

// Password resets and open sign-up.
//
// Both work by a link sent to the address, so that no page ever tells
// whether an address has an account: "forgot password" and "sign up"
// answer "check your email" in every case, and the email carries the
// link (a reset for an account, a sign-up link otherwise). Like
// invitation tokens (token.go), the link's token is never stored: the row
// keeps a nonce and the token's hash, and the token is
// HMAC(instance key, "password_reset", id, nonce), rebuilt by the mail
// worker through PasswordResetLink.

// PasswordResetTTL is how long a reset or sign-up link works.
const PasswordResetTTL = time.Hour

// maxResetsPerHour bounds the links sent to one address per hour.
const maxResetsPerHour = 3

// linkRequestEvery is how often an invitee may ask for a new link.
const linkRequestEvery = 24 * time.Hour

// PasswordReset is an emailed link to choose a password: for an account
// (UserID set) or for a new account of an open sign-up (UserID "").
type PasswordReset struct {
	ID        string
	UserID    string
	Email     string
	FirstName string
	LastName  string
	Nonce     string
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

func (t *Tokens) resetToken(id, nonce string) string { return t.derive("password_reset", id, nonce) }

// SetOpenSignup switches open sign-up on or off; call it before serving.
func (s *Service) SetOpenSignup(on bool) { s.cfg.OpenSignup = on }

// OpenSignup reports whether people may register without an invitation.
func (s *Service) OpenSignup() bool { return s.cfg.OpenSignup }

// RequestPasswordReset emails a reset link to email if it has an account.
// It answers the same whether or not it does.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return &Error{Code: CodeInvalidEmail, Message: err.Error(), Fields: []account.FieldError{fieldErr("email", CodeInvalidEmail, emailReason(err))}}
	}
	return s.inTx(ctx, func(tx Tx) error {
		u, err := tx.UserByEmail(ctx, norm)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.issueReset(ctx, tx, &PasswordReset{UserID: u.ID, Email: u.Email})
	})
}

// issueReset stores a link for p.Email and queues its email, unless too
// many were sent in the last hour (quietly: the answer never changes).
func (s *Service) issueReset(ctx context.Context, tx Tx, p *PasswordReset) error {
	now := s.Now()
	n, err := tx.CountPasswordResets(ctx, p.Email, now.Add(-time.Hour))
	if err != nil || n >= maxResetsPerHour {
		return err
	}
	p.ID, p.Nonce, p.CreatedAt, p.ExpiresAt = NewID(), NewNonce(), now, now.Add(PasswordResetTTL)
	p.TokenHash = HashToken(s.tokens.resetToken(p.ID, p.Nonce))
	if err := tx.InsertPasswordReset(ctx, p); err != nil {
		return err
	}
	orgID := ""
	if p.UserID != "" {
		orgs, err := tx.OrgsOfUser(ctx, p.UserID)
		if err != nil {
			return err
		}
		if len(orgs) > 0 {
			orgID = orgs[0].ID // for the email's language and colours
		}
	}
	data, _ := json.Marshal(map[string]string{"reset_id": p.ID})
	return tx.EnqueueEmail(ctx, &Email{ID: NewID(), OrgID: orgID, Kind: MailPasswordReset, UserID: p.UserID,
		To: p.Email, DueAt: now, Data: data})
}

// PasswordResetLink rebuilds the link of the reset id for its email (the
// mail worker calls it); an error when the link was used or expired.
func (s *Service) PasswordResetLink(ctx context.Context, id string) (string, time.Time, error) {
	var p *PasswordReset
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		p, err = tx.PasswordReset(ctx, id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return "", time.Time{}, errorf(CodeNotFound, "no such password reset")
	}
	if err != nil {
		return "", time.Time{}, err
	}
	if !p.UsedAt.IsZero() || !s.Now().Before(p.ExpiresAt) {
		return "", time.Time{}, errorf(CodeNotFound, "this password reset was used or has expired")
	}
	return s.cfg.BaseURL + "/reset/" + s.tokens.resetToken(p.ID, p.Nonce), p.ExpiresAt, nil
}

// ResetInfo is what the page behind a reset link shows.
type ResetInfo struct {
	Email      string
	NewAccount bool // an open sign-up: the password creates the account
	Rules      []account.Rule
	ExpiresAt  time.Time
}

var errBadReset = errorf(CodeNotFound, "this link is not valid or has expired; ask for a new one")

// resetByToken finds the live reset behind a token.
func (s *Service) resetByToken(ctx context.Context, tx Tx, token string) (*PasswordReset, error) {
	if !plausibleToken(token) {
		return nil, errBadReset
	}
	p, err := tx.PasswordResetByHash(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil, errBadReset
	}
	if err != nil {
		return nil, err
	}
	if !p.UsedAt.IsZero() || !s.Now().Before(p.ExpiresAt) {
		return nil, errBadReset
	}
	return p, nil
}

// policyFor is the password policy an address must meet: the strictest of
// its organizations' policies.
func (s *Service) policyFor(ctx context.Context, tx Tx, userID string) (account.PasswordPolicy, error) {
	if userID == "" {
		return account.PolicyNIST, nil
	}
	orgs, err := tx.OrgsOfUser(ctx, userID)
	if err != nil {
		return "", err
	}
	for _, o := range orgs {
		if o.Settings.PasswordPolicy == account.PolicyStrict {
			return account.PolicyStrict, nil
		}
	}
	return account.PolicyNIST, nil
}

// LookupReset tells what a reset link is, without using it.
func (s *Service) LookupReset(ctx context.Context, token string) (*ResetInfo, error) {
	var info *ResetInfo
	err := s.store.View(ctx, func(tx Tx) error {
		p, err := s.resetByToken(ctx, tx, token)
		if err != nil {
			return err
		}
		pol, err := s.policyFor(ctx, tx, p.UserID)
		if err != nil {
			return err
		}
		info = &ResetInfo{Email: p.Email, NewAccount: p.UserID == "", Rules: pol.Rules(), ExpiresAt: p.ExpiresAt}
		return nil
	})
	return info, err
}

// CompletePasswordReset sets the password of the link's account (or
// creates the account of a sign-up) and uses up every open link of the
// address. The caller should end the account's other sessions.
func (s *Service) CompletePasswordReset(ctx context.Context, token, password string) (*account.User, error) {
	var p *PasswordReset
	var pol account.PasswordPolicy
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if p, err = s.resetByToken(ctx, tx, token); err != nil {
			return err
		}
		pol, err = s.policyFor(ctx, tx, p.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if broken := pol.Check(password); len(broken) > 0 {
		e := &Error{Code: CodeWeakPassword, Message: "the password does not meet the policy: " + ruleList(broken)}
		for _, r := range broken {
			e.Fields = append(e.Fields, fieldErr("password", r.Code, r.Message))
		}
		return nil, e
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	var out *account.User
	err = s.inTx(ctx, func(tx Tx) error {
		p, err := s.resetByToken(ctx, tx, token)
		if err != nil {
			return err
		}
		now := s.Now()
		u, err := tx.UserByEmail(ctx, p.Email)
		switch {
		case errors.Is(err, ErrNotFound):
			// A sign-up: the address is proven, the account is new.
			u = &account.User{ID: NewID(), Email: p.Email, FirstName: p.FirstName, LastName: p.LastName,
				PasswordHash: hash, CreatedAt: now}
			if u.Username, err = s.freeUsername(ctx, tx, account.UsernameFromEmail(p.Email)); err != nil {
				return err
			}
			if err := s.createAccount(ctx, tx, u); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			u.PasswordHash = hash
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		out = u
		return tx.UsePasswordResets(ctx, p.Email, now)
	})
	return out, err
}

// SignUpResult says what happened to a sign-up, as far as the person may
// be told: their live invitations (which they should use instead, and
// which were sent to them again), or "check your email".
type SignUpResult struct {
	Invitations []SignUpInvitation
}

// SignUpInvitation names an organization that already invited the address.
type SignUpInvitation struct {
	OrgName string
	Resent  bool
}

// SignUp registers someone without an invitation, where the instance
// allows it. An address with a live invitation is sent to its invitation
// (the invitation email goes out again, at most daily); otherwise an email
// with a link to choose a password goes out: a sign-up link for a new
// address, a password reset for one with an account. Nothing in the answer
// tells those two apart.
func (s *Service) SignUp(ctx context.Context, email, firstName, lastName string) (*SignUpResult, error) {
	if !s.cfg.OpenSignup {
		return nil, errorf(CodeForbidden, "this instance is invite-only: ask an organization for an invitation")
	}
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, &Error{Code: CodeInvalidEmail, Message: err.Error(), Fields: []account.FieldError{fieldErr("email", CodeInvalidEmail, emailReason(err))}}
	}
	firstName, lastName = strings.TrimSpace(firstName), strings.TrimSpace(lastName)
	var errs []account.FieldError
	if firstName == "" {
		errs = append(errs, fieldErr("first_name", "required", "is required"))
	}
	for field, v := range map[string]string{"first_name": firstName, "last_name": lastName} {
		if msg := checkName(v); msg != "" {
			errs = append(errs, fieldErr(field, "invalid", msg))
		}
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	out := &SignUpResult{}
	err = s.inTx(ctx, func(tx Tx) error {
		out.Invitations = nil
		now := s.Now()
		invs, err := tx.LiveInvitationsByEmail(ctx, norm)
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if inv.StatusAt(now) != StatusPending {
				continue
			}
			org, err := tx.OrgByID(ctx, inv.OrgID)
			if err != nil {
				return err
			}
			si := SignUpInvitation{OrgName: org.Name}
			if si.Resent, err = s.sendAgainOnSignUp(ctx, tx, inv, now); err != nil {
				return err
			}
			out.Invitations = append(out.Invitations, si)
		}
		if len(out.Invitations) > 0 {
			return nil
		}
		u, err := tx.UserByEmail(ctx, norm)
		switch {
		case errors.Is(err, ErrNotFound):
			return s.issueReset(ctx, tx, &PasswordReset{Email: norm, FirstName: firstName, LastName: lastName})
		case err != nil:
			return err
		}
		return s.issueReset(ctx, tx, &PasswordReset{UserID: u.ID, Email: u.Email})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sendAgainOnSignUp queues the invitation email of inv again with its
// current link, unless that was done in the last day.
func (s *Service) sendAgainOnSignUp(ctx context.Context, tx Tx, inv *Invitation, now time.Time) (bool, error) {
	if recent, err := s.recentEvent(ctx, tx, inv.ID, "sent_on_signup", now); err != nil || recent {
		return false, err
	}
	if err := s.enqueueInvitationMail(ctx, tx, inv, MailInvitation); err != nil {
		return false, err
	}
	return true, s.event(ctx, tx, inv, "sent_on_signup", inv.StatusAt(now), Actor{Email: inv.Email}, "the invitee tried to sign up")
}

func (s *Service) recentEvent(ctx context.Context, tx Tx, invID, typ string, now time.Time) (bool, error) {
	events, err := tx.Events(ctx, invID)
	if err != nil {
		return false, err
	}
	for _, e := range events {
		if e.Type == typ && now.Sub(e.At) < linkRequestEvery {
			return true, nil
		}
	}
	return false, nil
}

// RequestNewLink is the invitee of an expired invitation asking its
// inviter for a new one: the inviter (or, without one, the members who
// manage invitations) is emailed, at most once a day per invitation. It
// returns the name of whom it asked.
func (s *Service) RequestNewLink(ctx context.Context, token string) (string, error) {
	var asked string
	err := s.inTx(ctx, func(tx Tx) error {
		inv, err := s.byToken(ctx, tx, token)
		if err != nil {
			return err
		}
		now := s.Now()
		st := inv.StatusAt(now)
		if st != StatusExpired {
			return errorf(CodeInvalidTransition, "only an expired invitation needs a new link")
		}
		recent, err := s.recentEvent(ctx, tx, inv.ID, "link_requested", now)
		if err != nil {
			return err
		}
		if recent {
			return errorf(CodeRateLimited, "a new link was already requested today; %s has been told", cmp.Or(inv.Inviter.Name, "the organization"))
		}
		var to []account.User
		if inv.InviterID != "" {
			if u, err := tx.UserByID(ctx, inv.InviterID); err == nil {
				to, asked = append(to, *u), u.Name()
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if len(to) == 0 {
			if to, err = tx.UsersWithPermission(ctx, inv.OrgID, account.PermManageInvites); err != nil {
				return err
			}
			asked = "the organization's administrators"
		}
		for _, u := range to {
			if err := tx.EnqueueEmail(ctx, &Email{ID: NewID(), OrgID: inv.OrgID, Kind: MailLinkRequested,
				InvitationID: inv.ID, UserID: u.ID, To: u.Email, DueAt: now}); err != nil {
				return err
			}
		}
		return s.event(ctx, tx, inv, "link_requested", st, Actor{Email: inv.Email}, "the invitee asked for a new link")
	})
	return asked, err
}
