package invite_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

func TestInviteAndAccept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		c := b.invite(t, "Ana.Silva@Example.com", invite.Options{FirstName: "Ana", LastName: "Silva",
			Groups: []string{"neighborhood a"}, Message: "Welcome!", Language: "nl-be"})
		inv := c.Invitation
		if inv.Email != "ana.silva@example.com" || inv.Status != invite.StatusPending || inv.Language != "nl-BE" ||
			inv.Username != "ana.silva" || inv.DeliveryStatus != invite.DeliveryQueued || inv.SendCount != 1 {
			t.Fatalf("Invite = %+v", inv)
		}
		if want := b.clock.Now().Add(7 * 24 * time.Hour); !inv.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", inv.ExpiresAt, want)
		}
		if diff := cmp.Diff([]string{"Neighborhood A"}, inv.Groups); diff != "" {
			t.Errorf("Groups (-want +got):\n%s", diff)
		}
		if got := kinds(b.outbox(t)); !slices.Equal(got, []string{"invitation:ana.silva@example.com"}) {
			t.Errorf("outbox = %v", got)
		}
		tok := token(t, c.Link)

		// Re-inviting the same address is refused.
		_, err := b.svc.Invite(b.ctx, b.owner, b.org.Slug, "ana.silva@example.com", invite.Options{})
		wantCode(t, err, invite.CodeAlreadyInvited)

		// Looking the link up does not consume it.
		info := must[*invite.LinkInfo](t)(b.svc.Lookup(b.ctx, tok))
		if info.Status != invite.StatusPending || info.AccountExists || info.Org.Name != "Acme Corp" || info.Inviter.Email != "owner@acme.test" {
			t.Fatalf("Lookup = %+v", info)
		}

		// A weak password is refused and changes nothing.
		_, err = b.svc.Accept(b.ctx, tok, invite.Registration{Password: "password123"})
		wantCode(t, err, invite.CodeWeakPassword)
		_, err = b.svc.Accept(b.ctx, tok, invite.Registration{Password: "short"})
		wantCode(t, err, invite.CodeWeakPassword)

		acc, err := b.svc.Accept(b.ctx, tok, invite.Registration{Password: "a long enough passphrase"})
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if acc.Status != invite.StatusAccepted || !acc.NewAccount || acc.User.FirstName != "Ana" || acc.User.Username != "ana.silva" {
			t.Fatalf("Accept = %+v", acc)
		}
		// Accepting again is refused.
		_, err = b.svc.Accept(b.ctx, tok, invite.Registration{Password: "a long enough passphrase"})
		wantCode(t, err, invite.CodeInvitationUsed)

		members, _, err := b.svc.Members(b.ctx, b.owner, b.org.Slug, false)
		if err != nil {
			t.Fatal(err)
		}
		var found *account.Member
		for i := range members {
			if members[i].User.Email == "ana.silva@example.com" {
				found = &members[i]
			}
		}
		if found == nil || found.Role != account.RoleMember || !slices.Equal(found.Groups, []string{"Neighborhood A"}) {
			t.Fatalf("member = %+v", found)
		}
		// The new user got a personal organization of their own.
		orgs := must[[]account.Organization](t)(b.svc.Orgs(b.ctx, invite.Actor{UserID: acc.User.ID}))
		if len(orgs) != 2 || !orgs[1].Personal {
			t.Errorf("Orgs of new user = %+v, want acme and a personal one", orgs)
		}
		// The inviter is told.
		if got := kinds(b.outbox(t)); !slices.Equal(got, []string{"accepted:owner@acme.test"}) {
			t.Errorf("outbox after accept = %v", got)
		}
		// History has every transition.
		events := must[[]invite.Event](t)(b.svc.Events(b.ctx, b.owner, b.org.Slug, inv.ID))
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type+":"+string(ev.From)+">"+string(ev.To))
		}
		if want := []string{"created:>pending", "accepted:pending>accepted"}; !slices.Equal(types, want) {
			t.Errorf("events = %v, want %v", types, want)
		}
		// Inviting a member is reported.
		_, err = b.svc.Invite(b.ctx, b.owner, b.org.Slug, "ANA.silva@example.com", invite.Options{})
		wantCode(t, err, invite.CodeAlreadyMember)
	})
}

func TestBatchInvite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		b.invite(t, "old@x.test", invite.Options{})
		res, err := b.svc.InviteMany(b.ctx, b.owner, b.org.Slug,
			account.SplitEmailList("a@x.test; b@x.test,not-an-email\nA@x.test old@x.test owner@acme.test"), invite.Options{}, false)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res {
			got = append(got, r.Email+"="+r.Outcome)
		}
		want := []string{"a@x.test=invited", "b@x.test=invited", "not-an-email=invalid_email", "a@x.test=duplicate",
			"old@x.test=already_invited", "owner@acme.test=already_member"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("InviteMany outcomes (-want +got):\n%s", diff)
		}
		if res[2].Err.Message != "missing @" {
			t.Errorf("invalid email reason = %q", res[2].Err.Message)
		}
		// on_existing=resend resends instead.
		res, err = b.svc.InviteMany(b.ctx, b.owner, b.org.Slug, []string{"old@x.test"}, invite.Options{}, true)
		if err != nil || res[0].Outcome != invite.OutcomeResent || res[0].Created.Invitation.SendCount != 2 {
			t.Fatalf("InviteMany resend = %+v, %v", res, err)
		}
	})
}

func TestResendSupersedesAndRevoke(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		c := b.invite(t, "ben@x.test", invite.Options{})
		old := token(t, c.Link)
		b.clock.Advance(time.Hour)
		r, err := b.svc.Resend(b.ctx, b.owner, b.org.Slug, c.Invitation.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Invitation.SendCount != 2 || !r.Invitation.ExpiresAt.Equal(b.clock.Now().Add(7*24*time.Hour)) {
			t.Errorf("Resend = %+v", r.Invitation)
		}
		_, err = b.svc.Lookup(b.ctx, old)
		wantCode(t, err, invite.CodeInvitationSuperseded)
		_, err = b.svc.Accept(b.ctx, old, invite.Registration{Password: "a long enough passphrase"})
		wantCode(t, err, invite.CodeInvitationSuperseded)
		_, err = b.svc.Lookup(b.ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		wantCode(t, err, invite.CodeInvitationNotFound)

		// A fresh link for someone who cannot find their email.
		l, err := b.svc.NewLink(b.ctx, b.owner, b.org.Slug, c.Invitation.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.svc.Lookup(b.ctx, token(t, r.Link))
		wantCode(t, err, invite.CodeInvitationSuperseded)

		rev, err := b.svc.Revoke(b.ctx, b.owner, b.org.Slug, c.Invitation.ID)
		if err != nil || rev.Status != invite.StatusRevoked {
			t.Fatalf("Revoke = %+v, %v", rev, err)
		}
		info, err := b.svc.Lookup(b.ctx, token(t, l.Link))
		if err != nil || info.Status != invite.StatusRevoked {
			t.Fatalf("Lookup revoked = %+v, %v", info, err)
		}
		_, err = b.svc.Accept(b.ctx, token(t, l.Link), invite.Registration{Password: "a long enough passphrase"})
		wantCode(t, err, invite.CodeInvitationRevoked)
		_, err = b.svc.Revoke(b.ctx, b.owner, b.org.Slug, c.Invitation.ID)
		wantCode(t, err, invite.CodeInvalidTransition)
		// A revoked invitation does not block inviting again.
		b.invite(t, "ben@x.test", invite.Options{})
	})
}

func TestExpiryRenewAndReminders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		c := b.invite(t, "cy@x.test", invite.Options{ExpiresIn: 96 * time.Hour, FirstName: "Cy"})
		tok := token(t, c.Link)
		b.outbox(t)

		b.clock.Advance(71 * time.Hour)
		if n := must[int](t)(b.svc.RemindDue(b.ctx)); n != 0 {
			t.Errorf("RemindDue after 71h = %d, want 0", n)
		}
		b.clock.Advance(time.Hour)
		if n := must[int](t)(b.svc.RemindDue(b.ctx)); n != 1 {
			t.Errorf("RemindDue after 72h = %d, want 1", n)
		}
		if n := must[int](t)(b.svc.RemindDue(b.ctx)); n != 0 {
			t.Errorf("RemindDue again = %d, want 0", n)
		}
		if got := kinds(b.outbox(t)); !slices.Equal(got, []string{"reminder:cy@x.test"}) {
			t.Errorf("outbox = %v", got)
		}

		b.clock.Advance(24 * time.Hour)
		// Past expires_at: expired everywhere at once, before any sweep.
		info := must[*invite.LinkInfo](t)(b.svc.Lookup(b.ctx, tok))
		if info.Status != invite.StatusExpired {
			t.Errorf("Lookup status = %s, want expired", info.Status)
		}
		got := must[*invite.Invitation](t)(b.svc.Get(b.ctx, b.owner, b.org.Slug, c.Invitation.ID))
		if got.StatusAt(b.clock.Now()) != invite.StatusExpired {
			t.Errorf("Get status = %s", got.StatusAt(b.clock.Now()))
		}
		page := must[*invite.Page](t)(b.svc.List(b.ctx, b.owner, b.org.Slug, invite.ListFilter{Statuses: []invite.Status{invite.StatusExpired}}))
		if page.Total != 1 {
			t.Errorf("List expired total = %d", page.Total)
		}
		_, err := b.svc.Accept(b.ctx, tok, invite.Registration{Password: "a long enough passphrase"})
		wantCode(t, err, invite.CodeInvitationExpired)
		if n := must[int](t)(b.svc.RemindDue(b.ctx)); n != 0 {
			t.Errorf("RemindDue on expired = %d", n)
		}
		if n := must[int](t)(b.svc.ExpireDue(b.ctx)); n != 1 {
			t.Errorf("ExpireDue = %d, want 1", n)
		}
		if n := must[int](t)(b.svc.ExpireDue(b.ctx)); n != 0 {
			t.Errorf("ExpireDue again = %d, want 0", n)
		}
		// Renew keeps the link.
		r, err := b.svc.Renew(b.ctx, b.owner, b.org.Slug, c.Invitation.ID, 0)
		if err != nil || r.Invitation.Status != invite.StatusPending || r.Link != "" {
			t.Fatalf("Renew = %+v, %v", r, err)
		}
		if _, err := b.svc.Accept(b.ctx, tok, invite.Registration{Password: "a long enough passphrase"}); err != nil {
			t.Fatalf("Accept after renew: %v", err)
		}
	})
}

func TestDraftSendEditAndDecline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		d := b.invite(t, "dee@x.test", invite.Options{Draft: true})
		if d.Invitation.Status != invite.StatusDraft || d.Link != "" || d.Invitation.DeliveryStatus != invite.DeliveryNone {
			t.Fatalf("draft = %+v", d)
		}
		if got := b.outbox(t); len(got) != 0 {
			t.Errorf("draft queued email: %v", kinds(got))
		}
		role, msg := account.RoleAdmin, "Come aboard"
		groups := []string{b.group.ID}
		ed, err := b.svc.Edit(b.ctx, b.owner, b.org.Slug, d.Invitation.ID, invite.Edit{Role: &role, Message: &msg, Groups: &groups})
		if err != nil || ed.Role != "admin" || ed.Message != msg || len(ed.Groups) != 1 {
			t.Fatalf("Edit = %+v, %v", ed, err)
		}
		bad := "nope"
		_, err = b.svc.Edit(b.ctx, b.owner, b.org.Slug, d.Invitation.ID, invite.Edit{Role: &bad})
		wantCode(t, err, invite.CodeValidation)

		s, err := b.svc.Send(b.ctx, b.owner, b.org.Slug, d.Invitation.ID)
		if err != nil || s.Invitation.Status != invite.StatusPending || s.Link == "" {
			t.Fatalf("Send = %+v, %v", s, err)
		}
		if got := kinds(b.outbox(t)); !slices.Equal(got, []string{"invitation:dee@x.test"}) {
			t.Errorf("outbox = %v", got)
		}
		_, err = b.svc.Send(b.ctx, b.owner, b.org.Slug, d.Invitation.ID)
		wantCode(t, err, invite.CodeInvalidTransition)

		dec, err := b.svc.Decline(b.ctx, token(t, s.Link))
		if err != nil || dec.Status != invite.StatusDeclined {
			t.Fatalf("Decline = %+v, %v", dec, err)
		}
		_, err = b.svc.Accept(b.ctx, token(t, s.Link), invite.Registration{Password: "a long enough passphrase"})
		wantCode(t, err, invite.CodeInvitationDeclined)
		// A declined invitation can be resent.
		if _, err := b.svc.Resend(b.ctx, b.owner, b.org.Slug, d.Invitation.ID); err != nil {
			t.Fatalf("Resend declined: %v", err)
		}
	})
}

func TestApproval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		must[*account.Organization](t)(b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error {
			s.AutoApproval = false
			s.PasswordPolicy = account.PolicyStrict
			return nil
		}))
		c1 := b.invite(t, "eve@x.test", invite.Options{Groups: []string{"Neighborhood A"}})
		c2 := b.invite(t, "fay@x.test", invite.Options{})
		b.outbox(t)

		_, err := b.svc.Accept(b.ctx, token(t, c1.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "Eve"})
		wantCode(t, err, invite.CodeWeakPassword)
		acc, err := b.svc.Accept(b.ctx, token(t, c1.Link), invite.Registration{Password: "Str0ng!Pass", FirstName: "Eve"})
		if err != nil || acc.Status != invite.StatusAwaitingApproval {
			t.Fatalf("Accept = %+v, %v", acc, err)
		}
		if got := kinds(b.outbox(t)); !slices.Equal(got, []string{"approval_needed:owner@acme.test"}) {
			t.Errorf("outbox = %v", got)
		}
		// Awaiting approval cannot be revoked, only rejected.
		_, err = b.svc.Revoke(b.ctx, b.owner, b.org.Slug, c1.Invitation.ID)
		wantCode(t, err, invite.CodeInvalidTransition)
		members, _, err := b.svc.Members(b.ctx, b.owner, b.org.Slug, false)
		if err != nil || len(members) != 1 {
			t.Fatalf("members before approval = %d, want 1", len(members))
		}
		inv, err := b.svc.Approve(b.ctx, b.owner, b.org.Slug, c1.Invitation.ID)
		if err != nil || inv.Status != invite.StatusAccepted || inv.DecidedBy != b.owner.UserID {
			t.Fatalf("Approve = %+v, %v", inv, err)
		}
		if got := kinds(b.outbox(t)); !slices.Equal(got, []string{"approved:eve@x.test", "accepted:owner@acme.test"}) {
			t.Errorf("outbox = %v", got)
		}
		members, _, err = b.svc.Members(b.ctx, b.owner, b.org.Slug, false)
		if err != nil || len(members) != 2 {
			t.Errorf("members after approval = %d, want 2", len(members))
		}

		if _, err := b.svc.Accept(b.ctx, token(t, c2.Link), invite.Registration{Password: "Str0ng!Pass", FirstName: "Fay"}); err != nil {
			t.Fatal(err)
		}
		inv, err = b.svc.Reject(b.ctx, b.owner, b.org.Slug, c2.Invitation.ID)
		if err != nil || inv.Status != invite.StatusRejected {
			t.Fatalf("Reject = %+v, %v", inv, err)
		}
		// Rejected: resend reopens it, and the existing account signs in.
		r, err := b.svc.Resend(b.ctx, b.owner, b.org.Slug, c2.Invitation.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.svc.Accept(b.ctx, token(t, r.Link), invite.Registration{Password: "wrong"})
		wantCode(t, err, invite.CodeWrongPassword)
		acc, err = b.svc.Accept(b.ctx, token(t, r.Link), invite.Registration{Password: "Str0ng!Pass"})
		if err != nil || acc.NewAccount || acc.Status != invite.StatusAwaitingApproval {
			t.Fatalf("Accept existing = %+v, %v", acc, err)
		}
	})
}

func TestExistingUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		// Someone with an account elsewhere: a normal invitation, accepted by signing in.
		other := must[*account.Organization](t)(b.svc.CreateOrg(b.ctx, "Other", "", "owner@acme.test"))
		c := b.invite(t, "gus@x.test", invite.Options{})
		must[*invite.Accepted](t)(b.svc.Accept(b.ctx, token(t, c.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "Gus"}))
		oc, err := b.svc.Invite(b.ctx, b.owner, other.Slug, "gus@x.test", invite.Options{})
		if err != nil || oc.Outcome != invite.OutcomeInvited {
			t.Fatalf("Invite registered user = %+v, %v", oc, err)
		}
		info := must[*invite.LinkInfo](t)(b.svc.Lookup(b.ctx, token(t, oc.Link)))
		if !info.AccountExists {
			t.Error("Lookup.AccountExists = false for a registered user")
		}
		// Signed in as someone else: refused, nothing consumed.
		_, err = b.svc.Accept(b.ctx, token(t, oc.Link), invite.Registration{SignedIn: &account.User{Email: "owner@acme.test"}})
		wantCode(t, err, invite.CodeEmailMismatch)
		acc, err := b.svc.Accept(b.ctx, token(t, oc.Link), invite.Registration{SignedIn: &account.User{Email: "gus@x.test"}})
		if err != nil || acc.NewAccount || acc.Status != invite.StatusAccepted {
			t.Fatalf("Accept signed in = %+v, %v", acc, err)
		}

		// With add-existing-users on, a registered user becomes a member at once.
		must[*account.Organization](t)(b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error { s.AddExistingUsers = true; return nil }))
		b2 := b.invite(t, "dup@x.test", invite.Options{})
		must[*invite.Accepted](t)(b.svc.Accept(b.ctx, token(t, b2.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "Dup"}))
		res, err := b.svc.Invite(b.ctx, b.owner, other.Slug, "dup@x.test", invite.Options{})
		if err != nil || res.Outcome != invite.OutcomeInvited {
			t.Fatalf("other org (setting off) = %+v, %v", res, err)
		}
		must[*account.Organization](t)(b.svc.UpdateSettings(b.ctx, b.owner, other.Slug, func(s *account.Settings) error { s.AddExistingUsers = true; return nil }))
		_, err = b.svc.Revoke(b.ctx, b.owner, other.Slug, res.Invitation.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err = b.svc.Invite(b.ctx, b.owner, other.Slug, "dup@x.test", invite.Options{Groups: nil})
		if err != nil || res.Outcome != invite.OutcomeAdded || res.Invitation.Status != invite.StatusAccepted {
			t.Fatalf("add directly = %+v, %v", res, err)
		}
	})
}

func TestIsolationAndPermissions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		c := b.invite(t, "hal@x.test", invite.Options{})
		stranger := must[*account.User](t)(b.svc.CreateUser(b.ctx, "stranger@y.test", "correct horse battery", false))
		theirs := must[*account.Organization](t)(b.svc.CreateOrg(b.ctx, "Theirs", "theirs", stranger.Email))
		actor := invite.Actor{UserID: stranger.ID, Email: stranger.Email}

		_, err := b.svc.Get(b.ctx, actor, b.org.Slug, c.Invitation.ID)
		wantCode(t, err, invite.CodeNotFound)
		_, err = b.svc.Get(b.ctx, actor, theirs.Slug, c.Invitation.ID)
		wantCode(t, err, invite.CodeInvitationNotFound)
		_, err = b.svc.Revoke(b.ctx, actor, theirs.Slug, c.Invitation.ID)
		wantCode(t, err, invite.CodeInvitationNotFound)
		_, err = b.svc.Invite(b.ctx, actor, b.org.Slug, "x@x.test", invite.Options{})
		wantCode(t, err, invite.CodeNotFound)

		// An API key reaches its own organization only.
		secret, _, err := b.svc.CreateAPIKey(b.ctx, theirs.Slug, "ci", invite.System)
		if err != nil {
			t.Fatal(err)
		}
		key := must[invite.Actor](t)(b.svc.AuthenticateKey(b.ctx, secret))
		if key.UserID != stranger.ID {
			t.Errorf("key actor = %+v, want attributed to the owner", key)
		}
		_, err = b.svc.List(b.ctx, key, b.org.Slug, invite.ListFilter{})
		wantCode(t, err, invite.CodeNotFound)
		_, err = b.svc.AuthenticateKey(b.ctx, secret+"x")
		wantCode(t, err, invite.CodeUnauthorized)

		// A plain member cannot invite.
		m := b.invite(t, "mem@x.test", invite.Options{})
		acc := must[*invite.Accepted](t)(b.svc.Accept(b.ctx, token(t, m.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "Mem"}))
		member := invite.Actor{UserID: acc.User.ID, Email: acc.User.Email}
		_, err = b.svc.Invite(b.ctx, member, b.org.Slug, "x@x.test", invite.Options{})
		wantCode(t, err, invite.CodeForbidden)
		// It sees the members, not who is invited.
		if ms, _, err := b.svc.Members(b.ctx, member, b.org.Slug, false); err != nil || len(ms) < 2 {
			t.Errorf("a plain member's Members = %d, %v", len(ms), err)
		}
		_, _, err = b.svc.Members(b.ctx, member, b.org.Slug, true)
		wantCode(t, err, invite.CodeForbidden)
		// Nor the API keys.
		_, err = b.svc.APIKeys(b.ctx, member, b.org.Slug)
		wantCode(t, err, invite.CodeForbidden)
		ownKeys := must[[]invite.APIKey](t)(b.svc.APIKeys(b.ctx, b.owner, b.org.Slug))
		wantCode(t, b.svc.RevokeAPIKey(b.ctx, member, b.org.Slug, "any"), invite.CodeForbidden)
		wantCode(t, b.svc.RevokeAPIKey(b.ctx, key, b.org.Slug, "any"), invite.CodeNotFound) // another organization's key
		if len(ownKeys) != 0 {
			t.Errorf("acme's keys = %+v, want none", ownKeys)
		}
		// Deactivated: no access at all.
		f := false
		must[*account.Member](t)(b.svc.UpdateMember(b.ctx, b.owner, b.org.Slug, acc.User.ID, invite.MemberChange{Active: &f}))
		_, err = b.svc.Groups(b.ctx, member, b.org.Slug)
		wantCode(t, err, invite.CodeNotFound)
		// The last owner cannot step down.
		role := account.RoleMember
		_, err = b.svc.UpdateMember(b.ctx, b.owner, b.org.Slug, b.owner.UserID, invite.MemberChange{Role: &role})
		wantCode(t, err, invite.CodeInvalidTransition)
	})
}

func TestValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		cases := []struct {
			email string
			opt   invite.Options
			code  string
		}{
			{"bad", invite.Options{}, invite.CodeInvalidEmail},
			{"a@x.test", invite.Options{Role: "wizard"}, invite.CodeValidation},
			{"a@x.test", invite.Options{Role: "owner"}, invite.CodeValidation},
			{"a@x.test", invite.Options{Groups: []string{"nope"}}, invite.CodeValidation},
			{"a@x.test", invite.Options{Language: "not a tag!"}, invite.CodeValidation},
			{"a@x.test", invite.Options{ExpiresIn: time.Minute}, invite.CodeValidation},
			{"a@x.test", invite.Options{RedirectURL: "javascript:alert(1)"}, invite.CodeValidation},
			{"a@x.test", invite.Options{Metadata: []byte(`[1]`)}, invite.CodeValidation},
			{"a@x.test", invite.Options{FirstName: string(make([]byte, 101))}, invite.CodeValidation},
			{"a@x.test", invite.Options{Username: "Bad Name"}, invite.CodeValidation},
			{"a@x.test", invite.Options{Username: "owner"}, invite.CodeUsernameTaken},
		}
		for _, c := range cases {
			_, err := b.svc.Invite(b.ctx, b.owner, b.org.Slug, c.email, c.opt)
			if got := invite.CodeOf(err); got != c.code {
				t.Errorf("Invite(%q, %+v) code = %q (%v), want %q", c.email, c.opt, got, err, c.code)
			}
		}
		page := must[*invite.Page](t)(b.svc.List(b.ctx, b.owner, b.org.Slug, invite.ListFilter{}))
		if page.Total != 0 {
			t.Errorf("invalid invites wrote %d invitations", page.Total)
		}
		must[*account.Organization](t)(b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error { s.AllowedDomains = []string{"Acme.test"}; return nil }))
		_, err := b.svc.Invite(b.ctx, b.owner, b.org.Slug, "a@x.test", invite.Options{})
		wantCode(t, err, invite.CodeDomainNotAllowed)
		b.invite(t, "a@acme.test", invite.Options{})
		_, err = b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error { s.InvitationTTL = time.Minute; s.BrandColor = "red"; return nil })
		wantCode(t, err, invite.CodeValidation)
	})
}
