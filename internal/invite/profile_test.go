package invite_test

import (
	"testing"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestProfiles: a member fills in their profile, an administrator
// verifies it, a change takes the verification away; a member sees and
// writes only their own; the profile goes with the membership.
func TestProfiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		accept := func(email string) invite.Actor {
			c := b.invite(t, email, invite.Options{})
			acc := must[*invite.Accepted](t)(b.svc.Accept(b.ctx, token(t, c.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "X"}))
			return invite.Actor{UserID: acc.User.ID, Email: acc.User.Email}
		}
		ana, ben := accept("ana@example.com"), accept("ben@example.com")

		p := must[*invite.Profile](t)(b.svc.MemberProfile(b.ctx, ana, b.org.Slug, ana.UserID))
		if p.UpdatedAt != nil || p.Phone != "" {
			t.Errorf("a profile never filled in = %+v", p)
		}
		_, err := b.svc.VerifyProfile(b.ctx, b.owner, b.org.Slug, ana.UserID)
		wantCode(t, err, invite.CodeInvalidTransition)
		_, err = b.svc.UpdateProfile(b.ctx, ana, b.org.Slug, ana.UserID, invite.ProfileFields{Phone: "call me"})
		wantCode(t, err, invite.CodeValidation)

		p = must[*invite.Profile](t)(b.svc.UpdateProfile(b.ctx, ana, b.org.Slug, ana.UserID,
			invite.ProfileFields{Phone: " +32 470 12 34 56 ", JobTitle: "Nurse", Department: "Care", Address: "Main street 1\n1000 Brussels"}))
		if p.Phone != "+32 470 12 34 56" || p.UpdatedAt == nil || p.UpdatedBy != "ana@example.com" || p.VerifiedAt != nil {
			t.Errorf("after filling in = %+v", p)
		}
		// Only one's own, unless managing members.
		_, err = b.svc.MemberProfile(b.ctx, ben, b.org.Slug, ana.UserID)
		wantCode(t, err, invite.CodeForbidden)
		_, err = b.svc.UpdateProfile(b.ctx, ben, b.org.Slug, ana.UserID, invite.ProfileFields{JobTitle: "Spy"})
		wantCode(t, err, invite.CodeForbidden)
		_, err = b.svc.VerifyProfile(b.ctx, ana, b.org.Slug, ana.UserID)
		wantCode(t, err, invite.CodeForbidden)
		_, err = b.svc.MemberProfile(b.ctx, b.owner, b.org.Slug, "not-a-member")
		wantCode(t, err, invite.CodeNotFound)

		p = must[*invite.Profile](t)(b.svc.VerifyProfile(b.ctx, b.owner, b.org.Slug, ana.UserID))
		if p.VerifiedAt == nil || p.VerifiedBy != "owner@acme.test" {
			t.Errorf("verified = %+v", p)
		}
		// Saving the same keeps the verification; a change takes it away.
		p = must[*invite.Profile](t)(b.svc.UpdateProfile(b.ctx, ana, b.org.Slug, ana.UserID,
			invite.ProfileFields{Phone: "+32 470 12 34 56", JobTitle: "Nurse", Department: "Care", Address: "Main street 1\n1000 Brussels"}))
		if p.VerifiedAt == nil {
			t.Error("saving the same profile took the verification away")
		}
		p = must[*invite.Profile](t)(b.svc.UpdateProfile(b.ctx, b.owner, b.org.Slug, ana.UserID,
			invite.ProfileFields{Phone: "+32 470 12 34 56", JobTitle: "Head nurse", Department: "Care"}))
		if p.VerifiedAt != nil || p.UpdatedBy != "owner@acme.test" || p.Address != "" {
			t.Errorf("after an administrator's change = %+v", p)
		}

		// The profile goes with the membership.
		if err := b.svc.RemoveMember(b.ctx, b.owner, b.org.Slug, ana.UserID); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := b.store.DB().QueryRowContext(b.ctx, `SELECT count(*) FROM profiles`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d profiles left after the member was removed (%v)", n, err)
		}
	})
}
