// Package mail renders usher's localized email messages and delivers them
// over SMTP.
//
// Rendering and sending are separate on purpose: the job layer renders a
// message when it is due, stores or sends it, and retries delivery without
// rendering again.
package mail

// Kind names a message.
type Kind string

// The messages usher sends. The comment says who receives each one and what
// its one link (Data.Link) points to.
const (
	KindInvitation     Kind = "invitation"      // to the invitee: you are invited; link to accept
	KindReminder       Kind = "reminder"        // to the invitee: reminder, link, expiry
	KindAccepted       Kind = "accepted"        // to the inviter: X accepted your invitation to Org
	KindApprovalNeeded Kind = "approval_needed" // to approvers: X registered and waits for approval; Link = review page
	KindApproved       Kind = "approved"        // to the invitee: you were approved; Link = sign-in / org page
	KindRejected       Kind = "rejected"        // to the invitee: your request was not approved
	KindPasswordReset  Kind = "password_reset"  // to a user: reset link, valid until ExpiresAt
	KindExpired        Kind = "expired"         // to the inviter: the invitation to X expired; Link = invitation page in console
	KindLinkRequested  Kind = "link_requested"  // to the inviter: X's link expired and they ask for a new one; Link = console
)

// Kinds lists every message kind, in a stable order (tests and previews
// iterate over it).
func Kinds() []Kind {
	return []Kind{
		KindInvitation, KindReminder, KindAccepted, KindApprovalNeeded, KindApproved,
		KindRejected, KindPasswordReset, KindExpired, KindLinkRequested,
	}
}

// kindSpec says which parts of the shared layout a kind uses. The job layer
// can fill Data from an invitation for every kind; the spec keeps, say, the
// inviter's personal message out of the "accepted" notice sent back to them.
type kindSpec struct {
	linkRequired bool   // the message is pointless without its link
	message      bool   // quote the inviter's personal message
	details      bool   // list role, groups and admin rights
	footer       string // catalog id of the "why you got this" line
}

var kindSpecs = map[Kind]kindSpec{
	KindInvitation:     {linkRequired: true, message: true, details: true, footer: "footer_invitee"},
	KindReminder:       {linkRequired: true, message: true, details: true, footer: "footer_invitee"},
	KindAccepted:       {footer: "footer_inviter"},
	KindApprovalNeeded: {linkRequired: true, details: true, footer: "footer_approver"},
	KindApproved:       {details: true, footer: "footer_member"},
	KindRejected:       {footer: "footer_member"},
	KindPasswordReset:  {linkRequired: true, footer: "footer_reset"},
	KindExpired:        {footer: "footer_inviter"},
	KindLinkRequested:  {linkRequired: true, footer: "footer_inviter"},
}
