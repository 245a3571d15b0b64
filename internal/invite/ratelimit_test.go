package invite_test

import (
	"strings"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestInvitesPerHour: an organization invites at most InvitesPerHour
// people an hour, through single and batch invites, by API key and by
// session; what was not made is given back; other organizations have
// their own allowance; the hour refills evenly.
func TestInvitesPerHour(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		tokens, _ := invite.NewTokens(testKey)
		svc := invite.New(b.store, b.clock.Now, account.NewHasher(4), tokens,
			invite.Config{BaseURL: "http://usher.test", InvitesPerHour: 6}, nil)
		keySecret, _, err := svc.CreateAPIKey(b.ctx, b.org.Slug, "", invite.System)
		if err != nil {
			t.Fatal(err)
		}
		key, err := svc.AuthenticateKey(b.ctx, keySecret)
		if err != nil {
			t.Fatal(err)
		}
		invite1 := func(actor invite.Actor, slug, email string) error {
			_, err := svc.Invite(b.ctx, actor, slug, email, invite.Options{})
			return err
		}
		// Two by key (the one-statement path once the organization is
		// remembered), two by session.
		for i, a := range []invite.Actor{key, key, b.owner, b.owner} {
			if err := invite1(a, b.org.Slug, string(rune('a'+i))+"@example.com"); err != nil {
				t.Fatalf("invite %d: %v", i, err)
			}
		}
		// Refused calls do not count.
		wantCode(t, invite1(b.owner, b.org.Slug, "a@example.com"), invite.CodeAlreadyInvited)
		wantCode(t, invite1(key, b.org.Slug, "a@example.com"), invite.CodeAlreadyInvited)
		// A batch takes its addresses' worth, and gives back what it did
		// not create: 2 left, 3 asked for, refused whole.
		if _, err := svc.InviteMany(b.ctx, b.owner, b.org.Slug, []string{"x@example.com", "y@example.com", "z@example.com"}, invite.Options{}, false); err == nil {
			t.Fatal("a batch beyond the allowance was accepted")
		} else {
			wantCode(t, err, invite.CodeRateLimited)
			if !strings.Contains(err.Error(), "6 people per hour") || !strings.Contains(err.Error(), "min") {
				t.Errorf("message %q", err)
			}
		}
		res, err := svc.InviteMany(b.ctx, b.owner, b.org.Slug, []string{"a@example.com", "e@example.com"}, invite.Options{}, false)
		if err != nil || res[1].Outcome != invite.OutcomeInvited {
			t.Fatalf("batch within the allowance: %v, %v", res, err)
		}
		// a@ was already invited: one left.
		if err := invite1(key, b.org.Slug, "f@example.com"); err != nil {
			t.Fatalf("the batch's unused address was not given back: %v", err)
		}
		wantCode(t, invite1(key, b.org.Slug, "g@example.com"), invite.CodeRateLimited)
		wantCode(t, invite1(b.owner, b.org.Slug, "g@example.com"), invite.CodeRateLimited)
		var n int
		if err := b.store.DB().QueryRowContext(b.ctx, `SELECT count(*) FROM invitations WHERE org_id = $1`, b.org.ID).Scan(&n); err != nil || n != 6 {
			t.Errorf("%d invitations written, want 6 (%v)", n, err)
		}

		// Another organization has its own hour.
		other, err := svc.CreateOrg(b.ctx, "Other", "", "owner@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		if err := invite1(b.owner, other.Slug, "g@example.com"); err != nil {
			t.Errorf("another organization: %v", err)
		}
		// Ten minutes give back one.
		b.clock.Advance(10 * time.Minute)
		if err := invite1(b.owner, b.org.Slug, "g@example.com"); err != nil {
			t.Errorf("after ten minutes: %v", err)
		}
		wantCode(t, invite1(b.owner, b.org.Slug, "h@example.com"), invite.CodeRateLimited)
		if _, err := svc.InviteMany(b.ctx, b.owner, b.org.Slug, make([]string, 7), invite.Options{}, false); err == nil ||
			!strings.Contains(err.Error(), "invite fewer at once") {
			t.Errorf("a batch larger than the hour's allowance: %v", err)
		}
	})
}
