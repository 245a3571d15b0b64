// Package invite is usher's domain: organizations, their members, and the
// invitations that bring people in, with every rule of the lifecycle
// (product.md §3) written once. It knows neither HTTP nor SQL: storage,
// time and email are reached through the small interfaces in store.go.
package invite

import (
	"slices"
	"time"
)

// Status is where an invitation stands in its lifecycle.
type Status string

// The statuses of product.md §3.
const (
	StatusDraft            Status = "draft"
	StatusPending          Status = "pending"
	StatusAwaitingApproval Status = "awaiting_approval"
	StatusAccepted         Status = "accepted"
	StatusRejected         Status = "rejected"
	StatusDeclined         Status = "declined"
	StatusExpired          Status = "expired"
	StatusRevoked          Status = "revoked"
)

// AllStatuses lists every status in lifecycle order.
var AllStatuses = []Status{
	StatusDraft, StatusPending, StatusAwaitingApproval, StatusAccepted,
	StatusRejected, StatusDeclined, StatusExpired, StatusRevoked,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(AllStatuses, s) }

// Live reports whether an invitation in s blocks inviting the same email
// again: at most one live invitation per organization and email.
func (s Status) Live() bool {
	return s == StatusDraft || s == StatusPending || s == StatusAwaitingApproval
}

// LiveStatuses are the statuses for which Live is true.
var LiveStatuses = []Status{StatusDraft, StatusPending, StatusAwaitingApproval}

// Action is something done to an invitation; each is allowed from a fixed
// set of statuses.
type Action string

// The actions on an invitation.
const (
	ActionSend    Action = "send"
	ActionResend  Action = "resend"
	ActionRenew   Action = "renew"
	ActionRevoke  Action = "revoke"
	ActionAccept  Action = "accept"
	ActionApprove Action = "approve"
	ActionReject  Action = "reject"
	ActionDecline Action = "decline"
	ActionExpire  Action = "expire"
	ActionLink    Action = "link"
	ActionEdit    Action = "edit"
	ActionRemind  Action = "remind"
)

// allowedFrom is the whole transition table of product.md §3: the
// (effective) statuses from which each action may be taken.
var allowedFrom = map[Action][]Status{
	ActionSend:    {StatusDraft},
	ActionResend:  {StatusPending, StatusExpired, StatusRejected, StatusDeclined},
	ActionRenew:   {StatusPending, StatusExpired},
	ActionRevoke:  {StatusDraft, StatusPending, StatusExpired},
	ActionAccept:  {StatusPending},
	ActionApprove: {StatusAwaitingApproval},
	ActionReject:  {StatusAwaitingApproval},
	ActionDecline: {StatusPending},
	ActionExpire:  {StatusPending},
	ActionLink:    {StatusDraft, StatusPending, StatusExpired},
	ActionEdit:    {StatusDraft, StatusPending},
	ActionRemind:  {StatusPending},
}

// Allowed reports whether action may be taken on an invitation whose
// effective status is s.
func (a Action) Allowed(s Status) bool { return slices.Contains(allowedFrom[a], s) }

// AllowedActions lists the actions allowed from s, for UIs.
func AllowedActions(s Status) []Action {
	var out []Action
	for _, a := range []Action{ActionSend, ActionResend, ActionRenew, ActionRevoke, ActionApprove, ActionReject, ActionLink, ActionEdit} {
		if a.Allowed(s) {
			out = append(out, a)
		}
	}
	return out
}

// EffectiveStatus is the status an invitation reads as at now: a pending
// invitation past its expiry is expired at once, whether or not the
// background job has recorded it yet.
func EffectiveStatus(stored Status, expiresAt, now time.Time) Status {
	if stored == StatusPending && !expiresAt.IsZero() && !now.Before(expiresAt) {
		return StatusExpired
	}
	return stored
}
