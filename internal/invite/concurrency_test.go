package invite_test

import (
	"sync"
	"testing"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// race runs fn n times at once and returns the errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

func TestConcurrentAcceptsOneWins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		c := b.invite(t, "race@x.test", invite.Options{FirstName: "Race"})
		tok := token(t, c.Link)
		errs := race(50, func(int) error {
			_, err := b.svc.Accept(b.ctx, tok, invite.Registration{Password: "a long enough passphrase"})
			return err
		})
		ok := 0
		for _, err := range errs {
			switch invite.CodeOf(err) {
			case "":
				if err != nil {
					t.Errorf("Accept: unexpected error %v", err)
					continue
				}
				ok++
			case invite.CodeInvitationUsed:
			default:
				t.Errorf("Accept: error %v, want invitation_used", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of 50 concurrent accepts succeeded, want exactly 1", ok)
		}
		members, _, err := b.svc.Members(b.ctx, b.owner, b.org.Slug, false)
		if err != nil || len(members) != 2 {
			t.Fatalf("members = %d, %v; want owner and the invitee", len(members), err)
		}
	})
}

// TestConcurrentInvitesOneInvitation: 50 simultaneous invites of one
// address make one invitation, from a signed-in owner (transactions) and
// from an API key (one statement each once the organization is
// remembered, in SQLite's shared transactions too).
func TestConcurrentInvitesOneInvitation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		t.Run("owner", func(t *testing.T) {
			b := setup(t, e)
			concurrentInvites(t, b, b.owner)
		})
		t.Run("api-key", func(t *testing.T) {
			b := setup(t, e)
			secret, _, err := b.svc.CreateAPIKey(b.ctx, b.org.Slug, "script", b.owner)
			if err != nil {
				t.Fatal(err)
			}
			key, err := b.svc.AuthenticateKey(b.ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			// The organization is remembered from here on.
			if _, err := b.svc.Invite(b.ctx, key, b.org.Slug, "first@x.test", invite.Options{}); err != nil {
				t.Fatal(err)
			}
			b.outbox(t)
			concurrentInvites(t, b, key)
		})
	})
}

func concurrentInvites(t *testing.T, b *bundle, actor invite.Actor) {
	errs := race(50, func(int) error {
		_, err := b.svc.Invite(b.ctx, actor, b.org.Slug, "same@x.test", invite.Options{})
		return err
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case invite.CodeOf(err) != invite.CodeAlreadyInvited:
			t.Errorf("Invite: error %v, want already_invited", err)
		}
	}
	page, err := b.svc.List(b.ctx, b.owner, b.org.Slug, invite.ListFilter{Query: "same@"})
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || page.Total != 1 {
		t.Fatalf("%d invites succeeded and %d invitations exist, want 1 and 1", ok, page.Total)
	}
	if n := len(b.outbox(t)); n != 1 {
		t.Errorf("%d emails queued, want 1", n)
	}
}
