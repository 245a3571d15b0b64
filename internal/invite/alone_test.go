package invite_test

import (
	"context"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
)

// TestInviteAloneAcrossInstances: two instances on one database. An API
// key's invitations in the first take the one-statement path once it
// remembers the organization, and a settings change made
// through the second is obeyed at once: the remembered settings never
// decide what is written.
func TestInviteAloneAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		opts := e.Options(t)
		instance := func() (*sqlstore.Store, *invite.Service) {
			store, err := sqlstore.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			tokens, _ := invite.NewTokens(testKey)
			return store, invite.New(store, nil, account.NewHasher(4), tokens, invite.Config{BaseURL: "http://usher.test"}, nil)
		}
		storeA, a := instance()
		_, b := instance()
		u, err := a.CreateUser(ctx, "owner@acme.test", "correct horse battery", false)
		if err != nil {
			t.Fatal(err)
		}
		org, err := a.CreateOrg(ctx, "Acme", "acme", u.Email)
		if err != nil {
			t.Fatal(err)
		}
		owner := invite.Actor{UserID: u.ID, Email: u.Email}
		secret, _, err := a.CreateAPIKey(ctx, "acme", "script", owner)
		if err != nil {
			t.Fatal(err)
		}
		key, err := a.AuthenticateKey(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		invite1 := func(svc *invite.Service, email string, opt invite.Options) (*invite.Created, error) {
			t.Helper()
			return svc.Invite(ctx, key, "acme", email, opt)
		}
		if _, err := invite1(a, "one@acme.test", invite.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, remembered := storeA.CachedOrg("acme"); !remembered {
			t.Fatalf("organization not remembered on %s", e.Name)
		}
		c, err := invite1(a, "two@acme.test", invite.Options{FirstName: "Two", Language: "nl"})
		if err != nil {
			t.Fatal(err)
		}
		inv := c.Invitation
		if c.Link == "" || inv.Status != invite.StatusPending || inv.DeliveryStatus != invite.DeliveryQueued || inv.Username != "two" {
			t.Fatalf("created = %+v, link %q", inv, c.Link)
		}
		// What was written is what the transactional path writes: the
		// invitation as answered, its created event, its email.
		got, err := b.Get(ctx, owner, "acme", inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.FirstName != "Two" || got.Language != "nl" || got.TokenHash != inv.TokenHash || !got.ExpiresAt.Equal(inv.ExpiresAt) {
			t.Fatalf("stored %+v, answered %+v", got, inv)
		}
		events, err := b.Events(ctx, owner, "acme", inv.ID)
		if err != nil || len(events) != 1 || events[0].Type != "created" || events[0].To != invite.StatusPending {
			t.Fatalf("events = %+v, %v", events, err)
		}
		emails, err := storeA.ClaimEmails(ctx, "test", time.Now().Add(time.Minute), time.Minute, 10)
		if err != nil || len(emails) != 2 || emails[1].InvitationID != inv.ID || emails[1].Kind != invite.MailInvitation {
			t.Fatalf("outbox = %+v, %v", emails, err)
		}
		if got, err := b.Accept(ctx, token(t, c.Link), invite.Registration{Password: "correct horse battery"}); err != nil || got.Status != invite.StatusAccepted {
			t.Fatalf("accept: %+v, %v", got, err)
		}

		// The second instance narrows the allowed domains; the first still
		// remembers the old settings, and must not follow them.
		if _, err := b.UpdateSettings(ctx, owner, "acme", func(s *account.Settings) error {
			s.AllowedDomains = []string{"example.com"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		_, err = invite1(a, "three@acme.test", invite.Options{})
		wantCode(t, err, invite.CodeDomainNotAllowed)
		if _, err := invite1(a, "four@example.com", invite.Options{}); err != nil {
			t.Fatal(err)
		}
		// The short path declines what it cannot decide alone; the
		// transactional path answers.
		_, err = invite1(a, "four@example.com", invite.Options{})
		wantCode(t, err, invite.CodeAlreadyInvited)
		if _, err := b.CreateUser(ctx, "five@example.com", "correct horse battery", false); err != nil {
			t.Fatal(err)
		}
		c, err = invite1(a, "five@example.com", invite.Options{})
		if err != nil || c.Outcome != invite.OutcomeInvited || c.Invitation.Email != "five@example.com" {
			t.Fatalf("inviting an existing account: %+v, %v", c, err)
		}
		_, err = invite1(a, "six@example.com", invite.Options{Language: "not a language!"})
		wantCode(t, err, invite.CodeValidation)
		if c, err := invite1(a, "seven@example.com", invite.Options{Draft: true}); err != nil || c.Invitation.Status != invite.StatusDraft || c.Link != "" {
			t.Fatalf("draft: %+v, %v", c, err)
		}
		// Another organization's slug is not found, remembered or not.
		other, err := b.CreateOrg(ctx, "Other", "other", u.Email)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Invite(ctx, owner, other.Slug, "x@example.com", invite.Options{}); err != nil {
			t.Fatal(err)
		}
		_, err = a.Invite(ctx, key, other.Slug, "eight@example.com", invite.Options{})
		wantCode(t, err, invite.CodeNotFound)
		if org.Slug != "acme" {
			t.Fatalf("slug %q", org.Slug)
		}
	})
}
