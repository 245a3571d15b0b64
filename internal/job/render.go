package job

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/mail"
	"usher/internal/sqlstore"
)

// batch is what rendering one claimed batch needs, loaded with a few
// queries for the whole batch rather than a few per email.
type batch struct {
	orgs   map[string]*account.Organization
	users  map[string]*account.User
	invs   map[string]*invite.Invitation
	resets map[string]resetLink // by outbox email id
}

// resetLink is a password reset's link, rebuilt from its row (the outbox
// holds only the reset's id: the link is a bearer secret).
type resetLink struct {
	link    string
	expires time.Time
	gone    bool // used or expired: nothing to send
}

// load reads the organizations, users and invitations claimed refers to.
func (r *Runner) load(ctx context.Context, claimed []sqlstore.OutboxEmail) (*batch, error) {
	b := &batch{orgs: map[string]*account.Organization{}, users: map[string]*account.User{}, resets: map[string]resetLink{}}
	var invIDs []string
	seen := map[string]bool{}
	for _, e := range claimed {
		if e.InvitationID != "" && !seen[e.InvitationID] {
			seen[e.InvitationID] = true
			invIDs = append(invIDs, e.InvitationID)
		}
	}
	var err error
	if b.invs, err = r.store.InvitationsByID(ctx, invIDs); err != nil {
		return nil, err
	}
	// Password resets are few; one lookup each.
	for _, e := range claimed {
		if e.Kind != invite.MailPasswordReset {
			continue
		}
		var data struct {
			ResetID string `json:"reset_id"`
		}
		if json.Unmarshal(e.Data, &data) != nil || data.ResetID == "" {
			continue // render fails it: no reset to link to
		}
		link, expires, err := r.svc.PasswordResetLink(ctx, data.ResetID)
		switch {
		case invite.CodeOf(err) == invite.CodeNotFound:
			b.resets[e.ID] = resetLink{gone: true}
		case err != nil:
			return nil, err
		default:
			b.resets[e.ID] = resetLink{link: link, expires: expires}
		}
	}
	err = r.store.View(ctx, func(tx invite.Tx) error {
		for _, e := range claimed {
			if _, ok := b.orgs[e.OrgID]; e.OrgID != "" && !ok {
				org, err := tx.OrgByID(ctx, e.OrgID)
				if err != nil && !errors.Is(err, invite.ErrNotFound) {
					return err
				}
				b.orgs[e.OrgID] = org // nil: gone
			}
			if _, ok := b.users[e.UserID]; e.UserID != "" && !ok {
				u, err := tx.UserByID(ctx, e.UserID)
				if err != nil && !errors.Is(err, invite.ErrNotFound) {
					return err
				}
				b.users[e.UserID] = u
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// rendered is one claimed email made ready: a message, or the reason it
// is skipped (skip), or the reason it can never be sent (err).
type rendered struct {
	msg  mail.Message
	skip string
	err  error
}

// renderAll renders claimed in order, on every core: rendering costs
// about as much as sending a message, and a batch's messages are
// independent.
func (r *Runner) renderAll(b *batch, claimed []sqlstore.OutboxEmail) []rendered {
	out := make([]rendered, len(claimed))
	workers := min(runtime.GOMAXPROCS(0), (len(claimed)+15)/16)
	if workers <= 1 {
		for i, e := range claimed {
			out[i] = r.render(b, e)
		}
		return out
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(claimed); i += workers {
				out[i] = r.render(b, claimed[i])
			}
		})
	}
	wg.Wait()
	return out
}

// render builds the message for an outbox email from the current state of
// what it is about. Every kind but password_reset is about an invitation.
// A kind it does not know fails permanently, with a reason that says so.
func (r *Runner) render(b *batch, e sqlstore.OutboxEmail) rendered {
	fail := func(format string, args ...any) rendered {
		return rendered{err: fmt.Errorf("cannot send %s email: "+format, append([]any{e.Kind}, args...)...)}
	}
	switch e.Kind {
	case invite.MailInvitation, invite.MailReminder, invite.MailAccepted, invite.MailApprovalNeeded,
		invite.MailApproved, invite.MailRejected, invite.MailExpired, invite.MailLinkRequested:
	case invite.MailPasswordReset:
		return r.renderReset(b, e)
	default:
		return fail("unknown kind")
	}
	org := b.orgs[e.OrgID]
	if org == nil {
		return fail("organization %s no longer exists", e.OrgID)
	}
	if e.InvitationID == "" {
		return fail("no invitation")
	}
	inv := b.invs[e.InvitationID]
	if inv == nil {
		return fail("invitation %s no longer exists", e.InvitationID)
	}
	now := r.now()
	d := mail.Data{Kind: mail.Kind(e.Kind), To: e.To, OrgName: org.Name, OrgLanguage: org.Settings.DefaultLanguage,
		BrandColor:  org.Settings.BrandColor,
		InviterName: inv.Inviter.Name, InviterEmail: inv.Inviter.Email,
		InviteeName: account.DisplayName(inv.FirstName, inv.LastName, inv.Email), InviteeEmail: inv.Email,
		Message: inv.Message, Role: inv.Role, Groups: inv.Groups, Admin: inv.Admin}
	if u := b.users[e.UserID]; u != nil {
		d.RecipientName, d.Language = u.Name(), u.Language
	}
	console := r.svc.BaseURL() + "/admin/orgs/" + org.Slug + "/invitations/" + inv.ID
	switch e.Kind {
	case invite.MailInvitation, invite.MailReminder:
		// Only the latest send of a still-pending invitation goes out.
		if st := inv.StatusAt(now); st != invite.StatusPending {
			return rendered{skip: "not sent: the invitation is " + string(st)}
		}
		if e.CreatedAt.Before(inv.SentAt) {
			return rendered{skip: "not sent: a newer link was sent"}
		}
		d.Language = cmp.Or(inv.Language, d.Language)
		d.RecipientName = account.DisplayName(inv.FirstName, inv.LastName, "")
		d.Link, d.ExpiresAt = r.svc.CurrentLink(inv), inv.ExpiresAt
	case invite.MailApproved:
		d.Language = cmp.Or(inv.Language, d.Language)
		d.Link = cmp.Or(inv.RedirectURL, org.Settings.RedirectURL, r.svc.BaseURL()+"/admin/")
	case invite.MailRejected:
		d.Language = cmp.Or(inv.Language, d.Language)
		var extra struct {
			Reason string `json:"reason"`
		}
		if len(e.Data) > 0 && json.Unmarshal(e.Data, &extra) == nil {
			d.Reason = extra.Reason
		}
	case invite.MailExpired:
		// Renewed or accepted meanwhile: the notice would be wrong.
		if st := inv.StatusAt(now); st != invite.StatusExpired {
			return rendered{skip: "not sent: the invitation is " + string(st)}
		}
		d.Link = console
	case invite.MailApprovalNeeded:
		// Another approver decided before this went out.
		if inv.Status != invite.StatusAwaitingApproval {
			return rendered{skip: "not sent: the invitation is " + string(inv.Status)}
		}
		d.Link = console
	default: // accepted, link_requested: to the inviter
		d.Link = console
	}
	msg, err := r.renderer.Render(d)
	if err != nil {
		return rendered{err: fmt.Errorf("could not render: %w", err)}
	}
	return rendered{msg: msg}
}

// renderReset builds a password reset (or open sign-up) email: to a
// user in their language, else their first organization's; the link is
// rebuilt from the reset's row, and a reset used or expired meanwhile is
// not sent.
func (r *Runner) renderReset(b *batch, e sqlstore.OutboxEmail) rendered {
	reset, ok := b.resets[e.ID]
	switch {
	case !ok:
		return rendered{err: fmt.Errorf("cannot send %s email: no reset_id in its data", e.Kind)}
	case reset.gone:
		return rendered{skip: "not sent: the reset link was used or has expired"}
	}
	d := mail.Data{Kind: mail.KindPasswordReset, To: e.To, Link: reset.link, ExpiresAt: reset.expires}
	if org := b.orgs[e.OrgID]; org != nil {
		d.OrgName, d.OrgLanguage, d.BrandColor = org.Name, org.Settings.DefaultLanguage, org.Settings.BrandColor
	}
	if u := b.users[e.UserID]; u != nil {
		d.RecipientName, d.Language = u.Name(), u.Language
	}
	msg, err := r.renderer.Render(d)
	if err != nil {
		return rendered{err: fmt.Errorf("could not render: %w", err)}
	}
	return rendered{msg: msg}
}
