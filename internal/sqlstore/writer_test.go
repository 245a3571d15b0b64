package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestGroupedWrites checks SQLite's shared write transactions: units of
// work queued behind a running one commit together, and each unit's
// failure, panic or cancellation touches only its own work.
func TestGroupedWrites(t *testing.T) {
	s := storetest.Open(t, storetest.Engines()[0])
	ctx := context.Background()
	enqueue := func(tx invite.Tx, to string) error {
		return tx.EnqueueEmail(ctx, &invite.Email{ID: invite.NewID(), OrgID: "org", Kind: invite.MailAccepted, To: to, DueAt: time.Now()})
	}
	// A connection of its own, outside the writer's transactions.
	var file string
	if err := s.DB().QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	reader, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	committed := func() map[string]bool {
		rows, err := reader.Query(`SELECT recipient FROM outbox`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]bool{}
		for rows.Next() {
			var r string
			rows.Scan(&r)
			got[r] = true
		}
		return got
	}

	// A first unit holds the writer while the others queue behind it.
	hold, held := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := s.InTx(ctx, func(tx invite.Tx) error {
			close(held)
			<-hold
			return enqueue(tx, "first@x.test")
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-held

	const n = 10
	errs := make([]error, n)
	seen := make([]int, n)
	cancelled, cancelQueued := context.WithCancel(ctx)
	for i := range n {
		wg.Go(func() {
			uctx := ctx
			if i == 7 {
				uctx = cancelled
			}
			defer func() {
				if v := recover(); v != nil {
					errs[i] = fmt.Errorf("panic: %v", v)
				}
			}()
			errs[i] = s.InTx(uctx, func(tx invite.Tx) error {
				seen[i] = len(committed())
				if err := enqueue(tx, fmt.Sprintf("u%d@x.test", i)); err != nil {
					return err
				}
				switch i {
				case 3:
					return errors.New("unit 3 fails")
				case 5:
					panic("unit 5 panics")
				case 8:
					// Cancelled mid-way: its statements still run, and
					// the others' work is not rolled back with it.
					c, cancel := context.WithCancel(ctx)
					cancel()
					return tx.EnqueueEmail(c, &invite.Email{ID: invite.NewID(), OrgID: "org", Kind: invite.MailAccepted, To: "u8b@x.test", DueAt: time.Now()})
				}
				return nil
			})
		})
	}
	// Let every unit reach the queue, cancel unit 7 there, then release.
	for deadline := time.Now().Add(10 * time.Second); s.QueuedWrites() < n; {
		if time.Now().After(deadline) {
			close(hold)
			t.Fatalf("%d of %d units queued", s.QueuedWrites(), n)
		}
		time.Sleep(time.Millisecond)
	}
	cancelQueued()
	close(hold)
	wg.Wait()

	got := committed()
	for i := range n {
		want := i != 3 && i != 5 && i != 7
		if got[fmt.Sprintf("u%d@x.test", i)] != want {
			t.Errorf("unit %d committed = %v, want %v (err %v)", i, !want, want, errs[i])
		}
	}
	if !got["first@x.test"] || !got["u8b@x.test"] {
		t.Errorf("committed %v", got)
	}
	if errs[3] == nil || errs[3].Error() != "unit 3 fails" {
		t.Errorf("unit 3: %v", errs[3])
	}
	if errs[5] == nil || errs[5].Error() != "panic: unit 5 panics" {
		t.Errorf("unit 5: %v", errs[5])
	}
	if !errors.Is(errs[7], context.Canceled) {
		t.Errorf("unit 7: %v", errs[7])
	}
	for _, i := range []int{0, 1, 2, 4, 6, 8, 9} {
		if errs[i] != nil {
			t.Errorf("unit %d: %v", i, errs[i])
		}
	}
	// They ran in one transaction: none saw another's work committed.
	for i, v := range seen {
		if i != 7 && v != 1 {
			t.Errorf("unit %d saw %d committed rows during the group, want 1 (the first unit's)", i, v)
		}
	}
}

// TestGroupedConflicts runs many concurrent units that contend for one
// unique key: exactly one wins, the others see it and say so.
func TestGroupedConflicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, losses := 0, 0
		for range 40 {
			wg.Go(func() {
				err := s.InTx(ctx, func(tx invite.Tx) error {
					return tx.InsertUser(ctx, &account.User{ID: invite.NewID(), Email: "same@x.test", Username: invite.NewID(), CreatedAt: time.Now()})
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, invite.ErrConflict):
					losses++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || losses != 39 {
			t.Errorf("wins %d, losses %d", wins, losses)
		}
	})
}

// TestCancelledAloneRollsBack: a unit of work running alone whose caller
// gives up mid-way is rolled back, not committed.
func TestCancelledAloneRollsBack(t *testing.T) {
	s := storetest.Open(t, storetest.Engines()[0])
	ctx, cancel := context.WithCancel(context.Background())
	err := s.InTx(ctx, func(tx invite.Tx) error {
		if err := tx.EnqueueEmail(ctx, &invite.Email{ID: invite.NewID(), OrgID: "org", Kind: invite.MailAccepted, To: "a@x.test", DueAt: time.Now()}); err != nil {
			return err
		}
		cancel()
		tx.EnqueueEmail(ctx, &invite.Email{ID: invite.NewID(), OrgID: "org", Kind: invite.MailAccepted, To: "b@x.test", DueAt: time.Now()})
		return nil
	})
	if err == nil {
		t.Fatal("a cancelled transaction committed")
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows committed", n)
	}
}
