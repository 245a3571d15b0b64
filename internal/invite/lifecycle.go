package invite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"usher/internal/account"
)

// load fetches one invitation of org, reporting another organization's
// invitation as not found.
func load(ctx context.Context, tx Tx, orgID, id string) (*Invitation, error) {
	inv, err := tx.Invitation(ctx, orgID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, errorf(CodeInvitationNotFound, "no such invitation")
	}
	return inv, err
}

// readInvitations are the permissions that let a member see invitations.
var readInvitations = []account.Permission{account.PermInvite, account.PermManageInvites, account.PermApprove}

// Get returns one invitation.
func (s *Service) Get(ctx context.Context, actor Actor, slug, id string) (*Invitation, error) {
	return read(ctx, s, actor, slug, readInvitations, func(tx Tx, org *account.Organization) (*Invitation, error) {
		return load(ctx, tx, org.ID, id)
	})
}

// List returns a page of the organization's invitations.
func (s *Service) List(ctx context.Context, actor Actor, slug string, f ListFilter) (*Page, error) {
	return read(ctx, s, actor, slug, readInvitations, func(tx Tx, org *account.Organization) (*Page, error) {
		f.OrgID, f.Now = org.ID, s.Now()
		return tx.ListInvitations(ctx, f)
	})
}

// Events returns an invitation's history, oldest first.
func (s *Service) Events(ctx context.Context, actor Actor, slug, id string) ([]Event, error) {
	return read(ctx, s, actor, slug, readInvitations, func(tx Tx, org *account.Organization) ([]Event, error) {
		if _, err := load(ctx, tx, org.ID, id); err != nil {
			return nil, err
		}
		return tx.Events(ctx, id)
	})
}

// change runs one action on an invitation in a transaction: access check
// with perm, load, transition check on the effective status, then apply.
func (s *Service) change(ctx context.Context, actor Actor, slug, id string, action Action, perm account.Permission,
	apply func(tx Tx, org *account.Organization, inv *Invitation) (*Created, error)) (*Created, error) {
	var out *Created
	var from Status
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, perm)
		if err != nil {
			return err
		}
		inv, err := load(ctx, tx, org.ID, id)
		if err != nil {
			return err
		}
		from = inv.StatusAt(s.Now())
		if !action.Allowed(from) {
			return transitionError(action, from)
		}
		out, err = apply(tx, org, inv)
		if err != nil {
			return err
		}
		if out.Invitation == nil {
			out.Invitation = inv
		}
		// Re-read for the joined fields (group names, inviter).
		out.Invitation, err = tx.Invitation(ctx, org.ID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.transitioned(from, out.Invitation.Status)
	return out, nil
}

// Send sends a draft: it becomes pending with a fresh link and its email.
func (s *Service) Send(ctx context.Context, actor Actor, slug, id string) (*Created, error) {
	return s.change(ctx, actor, slug, id, ActionSend, account.PermInvite, func(tx Tx, org *account.Organization, inv *Invitation) (*Created, error) {
		return s.rotate(ctx, tx, actor, org, inv, ActionSend, true)
	})
}

// Resend issues a new link (the old one dies), resets the expiry and sends
// the email again.
func (s *Service) Resend(ctx context.Context, actor Actor, slug, id string) (*Created, error) {
	return s.change(ctx, actor, slug, id, ActionResend, account.PermManageInvites, func(tx Tx, org *account.Organization, inv *Invitation) (*Created, error) {
		return s.rotate(ctx, tx, actor, org, inv, ActionResend, true)
	})
}

// NewLink issues a new link without sending email, for someone who cannot
// find theirs; the link is shown once.
func (s *Service) NewLink(ctx context.Context, actor Actor, slug, id string) (*Created, error) {
	return s.change(ctx, actor, slug, id, ActionLink, account.PermManageInvites, func(tx Tx, org *account.Organization, inv *Invitation) (*Created, error) {
		return s.rotate(ctx, tx, actor, org, inv, ActionLink, false)
	})
}

// rotate gives inv a new token and makes it pending; with email, queues
// the invitation email. Used by send, resend, link and batch resend.
func (s *Service) rotate(ctx context.Context, tx Tx, actor Actor, org *account.Organization, inv *Invitation, action Action, email bool) (*Created, error) {
	now := s.Now()
	from := inv.StatusAt(now)
	if !inv.Status.Live() {
		// Reopening a final invitation must not make a second live one.
		other, err := s.liveInvitation(ctx, tx, org.ID, inv.Email, actor)
		if err != nil {
			return nil, err
		}
		if other != nil && other.ID != inv.ID {
			return nil, errorf(CodeAlreadyInvited, "%s already has another open invitation", inv.Email)
		}
	}
	validity := s.validity(org, inv)
	oldExpiry, oldHash := inv.ExpiresAt, inv.TokenHash
	token := s.issue(inv, now, validity)
	if action == ActionLink && from == StatusPending {
		// A fresh link for a live invitation keeps its deadline.
		inv.ExpiresAt = oldExpiry
	}
	inv.Status = StatusPending
	inv.DecidedAt, inv.DecidedBy, inv.AcceptedUserID, inv.RevokedAt = time.Time{}, "", "", time.Time{}
	if email {
		s.queue(inv)
	}
	inv.UpdatedAt = now
	if err := tx.UpdateInvitation(ctx, inv); err != nil {
		return nil, err
	}
	if oldHash != "" {
		if err := tx.AddTokenHash(ctx, oldHash, inv.ID, now); err != nil {
			return nil, err
		}
	}
	typ := map[Action]string{ActionSend: "sent", ActionResend: "resent", ActionLink: "link_issued"}[action]
	if err := s.event(ctx, tx, inv, typ, from, actor, ""); err != nil {
		return nil, err
	}
	if email {
		if err := s.enqueueInvitationMail(ctx, tx, inv, MailInvitation); err != nil {
			return nil, err
		}
	}
	return &Created{Invitation: inv, Link: s.LinkFor(token), Outcome: OutcomeInvited}, nil
}

// validity is how long inv's links last: the span it was created with.
func (s *Service) validity(org *account.Organization, inv *Invitation) time.Duration {
	if !inv.SentAt.IsZero() && inv.ExpiresAt.After(inv.SentAt) {
		if d := inv.ExpiresAt.Sub(inv.SentAt); d >= account.MinInvitationTTL && d <= account.MaxInvitationTTL {
			return d
		}
	}
	if inv.Status == StatusDraft && inv.ExpiresAt.After(inv.CreatedAt) {
		return inv.ExpiresAt.Sub(inv.CreatedAt)
	}
	return org.Settings.InvitationTTL
}

// Renew extends a pending or expired invitation's deadline; the link stays
// the same. expiresIn 0 applies the invitation's own validity again.
func (s *Service) Renew(ctx context.Context, actor Actor, slug, id string, expiresIn time.Duration) (*Created, error) {
	if expiresIn != 0 && (expiresIn < account.MinInvitationTTL || expiresIn > account.MaxInvitationTTL) {
		return nil, invalid(fieldErr("expires_in", "out_of_range", "must be between 3600 and 31536000 seconds"))
	}
	return s.change(ctx, actor, slug, id, ActionRenew, account.PermManageInvites, func(tx Tx, org *account.Organization, inv *Invitation) (*Created, error) {
		now := s.Now()
		from := inv.StatusAt(now)
		if expiresIn == 0 {
			expiresIn = s.validity(org, inv)
		}
		if inv.Status != StatusPending {
			if other, err := s.liveInvitation(ctx, tx, org.ID, inv.Email, actor); err != nil {
				return nil, err
			} else if other != nil && other.ID != inv.ID {
				return nil, errorf(CodeAlreadyInvited, "%s already has another open invitation", inv.Email)
			}
		}
		inv.Status, inv.ExpiresAt, inv.UpdatedAt = StatusPending, now.Add(expiresIn), now
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return nil, err
		}
		return &Created{}, s.event(ctx, tx, inv, "renewed", from, actor, "valid until "+inv.ExpiresAt.Format(time.RFC3339))
	})
}

// Revoke withdraws a draft, pending or expired invitation; its link dies.
// It stays in the history.
func (s *Service) Revoke(ctx context.Context, actor Actor, slug, id string) (*Invitation, error) {
	c, err := s.change(ctx, actor, slug, id, ActionRevoke, account.PermManageInvites, func(tx Tx, _ *account.Organization, inv *Invitation) (*Created, error) {
		now := s.Now()
		from := inv.StatusAt(now)
		inv.Status, inv.RevokedAt, inv.UpdatedAt = StatusRevoked, now, now
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return nil, err
		}
		return &Created{}, s.event(ctx, tx, inv, "revoked", from, actor, "")
	})
	if err != nil {
		return nil, err
	}
	return c.Invitation, nil
}

// Edit is a change to a draft or pending invitation; nil fields stay.
type Edit struct {
	FirstName, LastName, Language, Role, Message *string
	Groups                                       *[]string
	Admin                                        *bool
	ExpiresAt                                    *time.Time
}

// Edit changes what a draft or pending invitation grants or says.
func (s *Service) Edit(ctx context.Context, actor Actor, slug, id string, e Edit) (*Invitation, error) {
	c, err := s.change(ctx, actor, slug, id, ActionEdit, account.PermManageInvites, func(tx Tx, org *account.Organization, inv *Invitation) (*Created, error) {
		oc := &orgContext{org: org, grant: s.grantorFor(ctx, tx, actor, org.ID)}
		var err error
		if oc.roles, err = tx.Roles(ctx, org.ID); err != nil {
			return nil, err
		}
		if oc.groups, err = tx.Groups(ctx, org.ID); err != nil {
			return nil, err
		}
		opt := Options{FirstName: inv.FirstName, LastName: inv.LastName, Language: inv.Language,
			Role: inv.Role, Groups: inv.GroupIDs, Admin: inv.Admin, Message: inv.Message}
		var changed []string
		set := func(name string, dst *string, v *string) {
			if v != nil && *v != *dst {
				*dst = *v
				changed = append(changed, name)
			}
		}
		set("first_name", &opt.FirstName, e.FirstName)
		set("last_name", &opt.LastName, e.LastName)
		set("language", &opt.Language, e.Language)
		set("role", &opt.Role, e.Role)
		set("message", &opt.Message, e.Message)
		if e.Groups != nil {
			opt.Groups, changed = *e.Groups, append(changed, "groups")
		}
		if e.Admin != nil && *e.Admin != opt.Admin {
			opt.Admin, changed = *e.Admin, append(changed, "admin")
		}
		r, err := oc.resolve(opt)
		if err != nil {
			return nil, err
		}
		now := s.Now()
		if e.ExpiresAt != nil {
			at := e.ExpiresAt.UTC().Truncate(time.Microsecond)
			if !at.After(now.Add(time.Minute)) || at.After(now.Add(account.MaxInvitationTTL)) {
				return nil, invalid(fieldErr("expires_at", "out_of_range", "must be in the future and within 365 days"))
			}
			inv.ExpiresAt, changed = at, append(changed, "expires_at")
		}
		inv.FirstName, inv.LastName, inv.Language, inv.Role = r.FirstName, r.LastName, r.Language, r.Role
		inv.Message, inv.Admin, inv.GroupIDs, inv.UpdatedAt = r.Message, r.Admin, r.groupIDs, now
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return nil, err
		}
		return &Created{}, s.event(ctx, tx, inv, "edited", inv.Status, actor, strings.Join(changed, ", "))
	})
	if err != nil {
		return nil, err
	}
	return c.Invitation, nil
}

// Approve admits an invitee who registered while approval was required.
func (s *Service) Approve(ctx context.Context, actor Actor, slug, id string) (*Invitation, error) {
	return s.decide(ctx, actor, slug, id, ActionApprove)
}

// Reject denies an invitee who registered while approval was required.
func (s *Service) Reject(ctx context.Context, actor Actor, slug, id string) (*Invitation, error) {
	return s.decide(ctx, actor, slug, id, ActionReject)
}

func (s *Service) decide(ctx context.Context, actor Actor, slug, id string, action Action) (*Invitation, error) {
	c, err := s.change(ctx, actor, slug, id, action, account.PermApprove, func(tx Tx, org *account.Organization, inv *Invitation) (*Created, error) {
		now := s.Now()
		from := inv.Status
		inv.DecidedAt, inv.DecidedBy, inv.UpdatedAt = now, actor.UserID, now
		mailKind := MailRejected
		if action == ActionApprove {
			inv.Status, inv.AcceptedAt, mailKind = StatusAccepted, now, MailApproved
			if err := s.admit(ctx, tx, inv, now); err != nil {
				return nil, err
			}
		} else {
			inv.Status = StatusRejected
		}
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return nil, err
		}
		typ := map[Action]string{ActionApprove: "approved", ActionReject: "rejected"}[action]
		if err := s.event(ctx, tx, inv, typ, from, actor, ""); err != nil {
			return nil, err
		}
		if inv.AcceptedUserID != "" {
			if err := tx.EnqueueEmail(ctx, &Email{ID: NewID(), OrgID: org.ID, Kind: mailKind, InvitationID: inv.ID,
				UserID: inv.AcceptedUserID, To: inv.Email, DueAt: now}); err != nil {
				return nil, err
			}
		}
		if action == ActionApprove {
			if err := s.notifyInviter(ctx, tx, inv, now); err != nil {
				return nil, err
			}
		}
		return &Created{}, nil
	})
	if err != nil {
		return nil, err
	}
	return c.Invitation, nil
}

// admit creates the membership an accepted invitation grants (for headless
// redeems there is no usher account: the application owns its users).
func (s *Service) admit(ctx context.Context, tx Tx, inv *Invitation, now time.Time) error {
	if inv.AcceptedUserID == "" {
		return nil
	}
	existing, err := tx.Membership(ctx, inv.OrgID, inv.AcceptedUserID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if existing != nil {
		return errorf(CodeAlreadyMember, "%s is already a member of this organization", inv.Email)
	}
	return tx.PutMembership(ctx, &account.Membership{
		OrgID: inv.OrgID, UserID: inv.AcceptedUserID, Role: inv.Role, Admin: inv.Admin,
		Active: true, GroupIDs: inv.GroupIDs, CreatedAt: now,
	})
}

// notifyInviter queues the accepted notice to whoever invited.
func (s *Service) notifyInviter(ctx context.Context, tx Tx, inv *Invitation, now time.Time) error {
	if inv.InviterID == "" {
		return nil
	}
	inviter, err := tx.UserByID(ctx, inv.InviterID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return tx.EnqueueEmail(ctx, &Email{ID: NewID(), OrgID: inv.OrgID, Kind: MailAccepted, InvitationID: inv.ID,
		UserID: inviter.ID, To: inviter.Email, DueAt: now})
}

// recordExpiry writes down that a pending invitation's time ran out.
func (s *Service) recordExpiry(ctx context.Context, tx Tx, inv *Invitation) error {
	inv.Status, inv.UpdatedAt = StatusExpired, s.Now()
	if err := tx.UpdateInvitation(ctx, inv); err != nil {
		return err
	}
	return s.event(ctx, tx, inv, "expired", StatusPending, System, fmt.Sprintf("link valid until %s", inv.ExpiresAt.Format(time.RFC3339)))
}
