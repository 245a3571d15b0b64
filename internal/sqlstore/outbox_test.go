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
