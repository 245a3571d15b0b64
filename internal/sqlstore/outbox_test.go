package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"usher/internal/invite"
	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
)

// queue puts n due emails in the outbox at now.
func queue(t *testing.T, s *sqlstore.Store, now time.Time, n int) {
	t.Helper()
	err := s.InTx(context.Background(), func(tx invite.Tx) error {
		for i := range n {
			if err := tx.EnqueueEmail(context.Background(), &invite.Email{ID: invite.NewID(), OrgID: "org", Kind: invite.MailAccepted,
				To: fmt.Sprintf("p%04d@x.test", i), DueAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestClaimEmails: a claim takes at most limit emails (also on a fresh
// PostgreSQL table whose statistics favour a nested-loop plan), concurrent
// claims take disjoint sets, and a claim whose lease ran out is claimable
// again with its attempt counted.
func TestClaimEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
		queue(t, s, now, 1000)

		got, err := s.ClaimEmails(ctx, "one", now, time.Minute, 200)
		if err != nil || len(got) != 200 {
			t.Fatalf("ClaimEmails(limit 200) = %d emails, %v; want 200", len(got), err)
		}
		seen := map[string]string{}
		for _, e := range got {
			seen[e.ID] = "one"
			if e.Attempts != 1 {
				t.Fatalf("attempts = %d, want 1", e.Attempts)
			}
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 4 {
			owner := fmt.Sprintf("w%d", w)
			wg.Go(func() {
				for {
					got, err := s.ClaimEmails(ctx, owner, now, time.Minute, 50)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					if len(got) > 50 {
						t.Errorf("claimed %d, want at most 50", len(got))
					}
					mu.Lock()
					for _, e := range got {
						if prev, ok := seen[e.ID]; ok {
							t.Errorf("%s claimed by %s and %s", e.ID, prev, owner)
						}
						seen[e.ID] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 1000 {
			t.Fatalf("claimed %d distinct emails, want 1000", len(seen))
		}

		// Complete a few; the rest's leases run out and they come back.
		results := make([]sqlstore.EmailResult, 0, len(got))
		for _, e := range got[:100] {
			results = append(results, sqlstore.EmailResult{Email: e, Sent: true})
		}
		if err := s.CompleteEmails(ctx, now, results); err != nil {
			t.Fatal(err)
		}
		if again, err := s.ClaimEmails(ctx, "late", now.Add(59*time.Second), time.Minute, 2000); err != nil || len(again) != 0 {
			t.Fatalf("ClaimEmails while leased = %d, %v; want none", len(again), err)
		}
		again, err := s.ClaimEmails(ctx, "late", now.Add(61*time.Second), time.Minute, 2000)
		if err != nil || len(again) != 900 {
			t.Fatalf("ClaimEmails after the leases ran out = %d, %v; want 900", len(again), err)
		}
		for _, e := range again {
			if e.Attempts != 2 {
				t.Fatalf("attempts = %d, want 2", e.Attempts)
			}
		}
	})
}

// TestClaimMovesInvitationEmails: a new invitation's email is due on the
// invitation itself; claims move due ones into the outbox first, each
// exactly once however many workers claim at the same time, and leave
// the ones due later.
func TestClaimMovesInvitationEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
		org := acme(now)
		recipient := map[string]string{} // invitation id → email
		err := s.InTx(ctx, func(tx invite.Tx) error {
			if err := tx.InsertOrg(ctx, org); err != nil {
				return err
			}
			for i := range 300 {
				due := now
				if i%3 == 2 {
					due = now.Add(time.Hour)
				}
				inv := &invite.Invitation{ID: invite.NewID(), OrgID: org.ID, Email: fmt.Sprintf("p%03d@x.test", i), Role: "member",
					Status: invite.StatusPending, Source: invite.SourceAPI, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
					DeliveryStatus: invite.DeliveryQueued, SendCount: 1}
				ev := &invite.Event{ID: invite.NewID(), InvitationID: inv.ID, OrgID: org.ID, At: now, Type: "created", To: inv.Status, Actor: "test"}
				mail := &invite.Email{ID: invite.NewID(), OrgID: org.ID, Kind: invite.MailInvitation, InvitationID: inv.ID, To: inv.Email, DueAt: due}
				if err := tx.CreateInvitation(ctx, inv, ev, mail, true); err != nil {
					return err
				}
				if due.Equal(now) {
					recipient[inv.ID] = inv.Email
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		count := func(q string) (n int) {
			t.Helper()
			if err := s.DB().QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if o, d := count(`SELECT count(*) FROM outbox`), count(`SELECT count(*) FROM invitations WHERE mail_due IS NOT NULL`); o != 0 || d != 300 {
			t.Fatalf("after creating: %d outbox rows, %d emails due on invitations; want 0 and 300", o, d)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		claimed := map[string]string{} // invitation id → recipient
		for w := range 4 {
			wg.Go(func() {
				for {
					got, err := s.ClaimEmails(ctx, fmt.Sprint("w", w), now, 2*time.Hour, 30)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, e := range got {
						if _, dup := claimed[e.InvitationID]; dup || e.Kind != invite.MailInvitation || e.OrgID != org.ID {
							t.Errorf("claimed %+v (again: %v)", e.Email, dup)
						}
						claimed[e.InvitationID] = e.To
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != len(recipient) {
			t.Fatalf("claimed %d invitation emails, want %d", len(claimed), len(recipient))
		}
		for id, to := range recipient {
			if claimed[id] != to {
				t.Errorf("invitation %s: email to %q, want %q", id, claimed[id], to)
			}
		}
		if o, d := count(`SELECT count(*) FROM outbox`), count(`SELECT count(*) FROM invitations WHERE mail_due IS NOT NULL`); o != 200 || d != 100 {
			t.Fatalf("after claiming: %d outbox rows, %d due on invitations; want 200 and 100", o, d)
		}
		later, err := s.ClaimEmails(ctx, "later", now.Add(time.Hour), time.Minute, 1000)
		if err != nil || len(later) != 100 {
			t.Fatalf("an hour later: claimed %d, %v; want 100", len(later), err)
		}
	})
}
