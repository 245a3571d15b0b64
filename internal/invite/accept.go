package invite

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"

	"usher/internal/account"
)

// LinkInfo is what an invitation link shows its holder (api.md lookup).
type LinkInfo struct {
	Invitation    *Invitation
	Status        Status // effective
	Org           *account.Organization
	Inviter       Person
	AccountExists bool
	Rules         []account.Rule // the password policy new accounts must meet
}

// byToken finds the invitation behind a token, telling apart a link that
// never existed from one replaced by a newer link.
func (s *Service) byToken(ctx context.Context, tx Tx, token string) (*Invitation, error) {
	if !plausibleToken(token) {
		return nil, errorf(CodeInvitationNotFound, "this invitation link is not valid")
	}
	inv, current, err := tx.InvitationByTokenHash(ctx, HashToken(token))
	if errors.Is(err, ErrNotFound) {
		return nil, errorf(CodeInvitationNotFound, "this invitation link is not valid")
	}
	if err != nil {
		return nil, err
	}
	if !current {
		return nil, errorf(CodeInvitationSuperseded, "a newer invitation link was sent; use the most recent email")
	}
	return inv, nil
}

// Lookup tells what a link is, without using it up: opening a link (mail
// scanners do) never consumes it.
func (s *Service) Lookup(ctx context.Context, token string) (*LinkInfo, error) {
	var info *LinkInfo
	err := s.store.View(ctx, func(tx Tx) error {
		inv, err := s.byToken(ctx, tx, token)
		if err != nil {
			return err
		}
		org, err := tx.OrgByID(ctx, inv.OrgID)
		if err != nil {
			return err
		}
		_, err = tx.UserByEmail(ctx, inv.Email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		info = &LinkInfo{Invitation: inv, Status: inv.StatusAt(s.Now()), Org: org, Inviter: inv.Inviter,
			AccountExists: err == nil, Rules: org.Settings.PasswordPolicy.Rules()}
		return nil
	})
	return info, err
}

// Registration is what an invitee gives to accept.
type Registration struct {
	Password  string
	FirstName string
	LastName  string
	// SignedIn is the account of a session already signed in, if any: it
	// accepts without a password when it is the invited email.
	SignedIn *account.User
}

// Accepted is the answer to accepting.
type Accepted struct {
	Invitation  *Invitation
	Status      Status // accepted or awaiting_approval
	User        *account.User
	Org         *account.Organization
	RedirectURL string
	NewAccount  bool
}

// Accept registers the invitee (or signs in their existing account) and
// accepts: the membership is created in the same transaction as the status
// change, or the invitation waits for approval.
func (s *Service) Accept(ctx context.Context, token string, reg Registration) (*Accepted, error) {
	// Everything slow (password hashing, ~30 ms) happens before the
	// transaction, from a first read; the transaction checks it all again.
	var inv *Invitation
	var org *account.Organization
	var existing *account.User
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if inv, err = s.byToken(ctx, tx, token); err != nil {
			return err
		}
		if st := inv.StatusAt(s.Now()); st != StatusPending {
			return deadLinkError(st)
		}
		if org, err = tx.OrgByID(ctx, inv.OrgID); err != nil {
			return err
		}
		existing, err = tx.UserByEmail(ctx, inv.Email)
		if errors.Is(err, ErrNotFound) {
			existing, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if reg.SignedIn != nil && reg.SignedIn.Email != inv.Email {
		return nil, errorf(CodeEmailMismatch, "you are signed in as %s, but this invitation is for another address; sign out first", reg.SignedIn.Email)
	}
	var newUser *account.User
	if existing != nil {
		if reg.SignedIn == nil {
			ok, err := s.hasher.Verify(ctx, existing.PasswordHash, reg.Password)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, &Error{Code: CodeWrongPassword, Message: "the password is not right for this account",
					Fields: []account.FieldError{fieldErr("password", CodeWrongPassword, "is not right for this account")}}
			}
		}
	} else {
		if newUser, err = s.newAccount(ctx, org, inv, reg); err != nil {
			return nil, err
		}
	}

	var out *Accepted
	err = s.inTx(ctx, func(tx Tx) error {
		fresh, err := s.byToken(ctx, tx, token)
		if err != nil {
			return err
		}
		now := s.Now()
		from := fresh.StatusAt(now)
		if from != StatusPending {
			return deadLinkError(from)
		}
		if org, err = tx.OrgByID(ctx, fresh.OrgID); err != nil {
			return err
		}
		user, err := tx.UserByEmail(ctx, fresh.Email)
		switch {
		case errors.Is(err, ErrNotFound) && newUser != nil:
			u := *newUser
			if u.Username, err = s.registrableUsername(ctx, tx, fresh); err != nil {
				return err
			}
			if err := s.createAccount(ctx, tx, &u); err != nil {
				return err
			}
			user = &u
		case err != nil:
			return err
		case newUser != nil:
			// The account appeared since the first read: whoever made it
			// set its password, so this registration cannot stand.
			return ErrConflict
		}
		fresh.AcceptedUserID, fresh.UpdatedAt = user.ID, now
		if org.Settings.AutoApproval {
			fresh.Status, fresh.AcceptedAt = StatusAccepted, now
			if err := s.admit(ctx, tx, fresh, now); err != nil {
				return err
			}
		} else {
			fresh.Status = StatusAwaitingApproval
		}
		if err := tx.UpdateInvitation(ctx, fresh); err != nil {
			return err
		}
		invitee := Actor{UserID: user.ID, Email: user.Email}
		if err := s.event(ctx, tx, fresh, "accepted", from, invitee, ""); err != nil {
			return err
		}
		if fresh.Status == StatusAccepted {
			err = s.notifyInviter(ctx, tx, fresh, now)
		} else {
			err = s.notifyApprovers(ctx, tx, fresh, now)
		}
		if err != nil {
			return err
		}
		out = &Accepted{Invitation: fresh, Status: fresh.Status, User: user, Org: org, NewAccount: newUser != nil,
			RedirectURL: cmp.Or(fresh.RedirectURL, org.Settings.RedirectURL)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.transitioned(StatusPending, out.Status)
	return out, nil
}

// newAccount validates a registration against the organization's password
// policy and hashes the password: the account as it will be inserted.
func (s *Service) newAccount(ctx context.Context, org *account.Organization, inv *Invitation, reg Registration) (*account.User, error) {
	first := strings.TrimSpace(cmp.Or(reg.FirstName, inv.FirstName))
	last := strings.TrimSpace(cmp.Or(reg.LastName, inv.LastName))
	var errs []account.FieldError
	if first == "" {
		errs = append(errs, fieldErr("first_name", "required", "is required"))
	}
	for field, v := range map[string]string{"first_name": first, "last_name": last} {
		if msg := checkName(v); msg != "" {
			errs = append(errs, fieldErr(field, "invalid", msg))
		}
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	if broken := org.Settings.PasswordPolicy.Check(reg.Password); len(broken) > 0 {
		e := &Error{Code: CodeWeakPassword, Message: "the password does not meet the policy: " + ruleList(broken)}
		for _, r := range broken {
			e.Fields = append(e.Fields, fieldErr("password", r.Code, r.Message))
		}
		return nil, e
	}
	hash, err := s.hasher.Hash(ctx, reg.Password)
	if err != nil {
		return nil, err
	}
	return &account.User{ID: NewID(), Email: inv.Email, FirstName: first, LastName: last,
		Language: inv.Language, PasswordHash: hash, CreatedAt: s.Now()}, nil
}

func ruleList(rules []account.Rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.Message
	}
	return strings.Join(parts, ", ")
}

// registrableUsername is the invitation's proposed username if still free,
// else a free one derived from the email.
func (s *Service) registrableUsername(ctx context.Context, tx Tx, inv *Invitation) (string, error) {
	if inv.Username != "" {
		_, err := tx.UserByUsername(ctx, inv.Username)
		if errors.Is(err, ErrNotFound) {
			return inv.Username, nil
		}
		if err != nil {
			return "", err
		}
	}
	return s.freeUsername(ctx, tx, account.UsernameFromEmail(inv.Email))
}

// createAccount inserts a user and, where the instance gives one, their
// personal organization with them as owner.
func (s *Service) createAccount(ctx context.Context, tx Tx, u *account.User) error {
	if err := tx.InsertUser(ctx, u); err != nil {
		return err
	}
	if !s.cfg.PersonalOrgs {
		return nil
	}
	name := account.DisplayName(u.FirstName, "", u.Username) + "'s organization"
	_, err := s.newOrg(ctx, tx, name, "", u, true)
	return err
}

func (s *Service) notifyApprovers(ctx context.Context, tx Tx, inv *Invitation, now time.Time) error {
	approvers, err := tx.UsersWithPermission(ctx, inv.OrgID, account.PermApprove)
	if err != nil {
		return err
	}
	for _, a := range approvers {
		if err := tx.EnqueueEmail(ctx, &Email{ID: NewID(), OrgID: inv.OrgID, Kind: MailApprovalNeeded,
			InvitationID: inv.ID, UserID: a.ID, To: a.Email, DueAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// Decline records that the invitee said no; the link dies.
func (s *Service) Decline(ctx context.Context, token string) (*Invitation, error) {
	var out *Invitation
	err := s.inTx(ctx, func(tx Tx) error {
		inv, err := s.byToken(ctx, tx, token)
		if err != nil {
			return err
		}
		now := s.Now()
		if st := inv.StatusAt(now); st != StatusPending {
			return deadLinkError(st)
		}
		inv.Status, inv.UpdatedAt = StatusDeclined, now
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return err
		}
		out = inv
		return s.event(ctx, tx, inv, "declined", StatusPending, Actor{Email: inv.Email}, "")
	})
	if err == nil {
		s.transitioned(StatusPending, StatusDeclined)
	}
	return out, err
}

// Redeem is the headless accept: an application that ran its own sign-up
// exchanges the invitee's token for its own user id.
func (s *Service) Redeem(ctx context.Context, actor Actor, slug, token, externalUserID string) (*Invitation, error) {
	externalUserID = strings.TrimSpace(externalUserID)
	if externalUserID == "" || len(externalUserID) > 200 {
		return nil, invalid(fieldErr("external_user_id", "invalid", "must be 1 to 200 characters"))
	}
	var out *Invitation
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermInvite)
		if err != nil {
			return err
		}
		inv, err := s.byToken(ctx, tx, token)
		if err != nil {
			return err
		}
		if inv.OrgID != org.ID {
			return errorf(CodeInvitationNotFound, "this invitation link is not valid")
		}
		now := s.Now()
		if st := inv.StatusAt(now); st != StatusPending {
			return deadLinkError(st)
		}
		inv.ExternalUserID, inv.UpdatedAt = externalUserID, now
		if org.Settings.AutoApproval {
			inv.Status, inv.AcceptedAt = StatusAccepted, now
		} else {
			inv.Status = StatusAwaitingApproval
		}
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return err
		}
		if err := s.event(ctx, tx, inv, "redeemed", StatusPending, actor, "external user "+externalUserID); err != nil {
			return err
		}
		if inv.Status == StatusAccepted {
			err = s.notifyInviter(ctx, tx, inv, now)
		} else {
			err = s.notifyApprovers(ctx, tx, inv, now)
		}
		if err != nil {
			return err
		}
		out, err = tx.Invitation(ctx, org.ID, inv.ID)
		return err
	})
	if err == nil {
		s.transitioned(StatusPending, out.Status)
	}
	return out, err
}
