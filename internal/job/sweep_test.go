package job_test

import (
	"sync"
	"testing"
	"time"

	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/sqlstore/storetest"
)

// TestRemindersAndExpiry moves the test clock through an invitation's
// life: one reminder three days after sending, none for an accepted
// invitation, none twice, and the expiry recorded as an event.
func TestRemindersAndExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		ana := b.invite(t, "ana@x.test", invite.Options{})
		bob := b.invite(t, "bob@x.test", invite.Options{})
		b.deliver(t)

		sweep := func(wantReminded, wantExpired int) {
			t.Helper()
			res, err := b.runner.SweepOnce(b.ctx)
			if err != nil || !res.Ran || res.Reminded != wantReminded || res.Expired != wantExpired {
				t.Fatalf("SweepOnce() = %+v, %v; want ran, %d reminded, %d expired", res, err, wantReminded, wantExpired)
			}
			b.deliver(t)
		}
		b.clock.Advance(3*24*time.Hour - time.Minute)
		sweep(0, 0)
		if _, err := b.svc.Accept(b.ctx, tokenOf(t, bob.Link), invite.Registration{Password: "correct horse battery staple", FirstName: "Bob"}); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(2 * time.Minute)
		sweep(1, 0)
		sweep(0, 0)
		b.clock.Advance(24 * time.Hour)
		sweep(0, 0)
		got := perRecipient(b.smtp.Messages())
		if got["ana@x.test"] != 2 || got["bob@x.test"] != 1 {
			t.Errorf("received %v, want ana twice (invitation, reminder) and bob once", got)
		}
		if rows := b.outbox(t, ana.Invitation.ID); len(rows) != 2 || rows[1].Kind != "reminder" || rows[1].Status != "sent" {
			t.Errorf("outbox of ana = %+v, want the invitation and one sent reminder", rows)
		}

		b.clock.Advance(ana.Invitation.ExpiresAt.Sub(b.clock.Now()) + time.Second)
		sweep(0, 1)
		sweep(0, 0)
		if inv := b.get(t, ana.Invitation.ID); inv.Status != invite.StatusExpired {
			t.Errorf("status = %s, want expired", inv.Status)
		}
		events, err := b.svc.Events(b.ctx, b.owner, b.org.Slug, ana.Invitation.ID)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type)
		}
		n := 0
		for _, ev := range events {
			if ev.Type == "expired" {
				n++
				if ev.From != invite.StatusPending || ev.To != invite.StatusExpired || ev.Actor != "system" {
					t.Errorf("expired event = %+v", ev)
				}
			}
		}
		if n != 1 {
			t.Errorf("events = %v, want one expired", types)
		}
	})
}

// TestSweepLease: two runners (two instances) sweeping one database at
// the same moment: one of them runs the sweep, each invitation gets its
// reminder once; once the holder stops renewing, the other takes over.
func TestSweepLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{cfg: job.Config{Owner: "one", Sweep: time.Minute}})
		other := b.newRunner(job.Config{Owner: "two", Sweep: time.Minute})
		const n = 20
		for i := range n {
			b.invite(t, addr(i), invite.Options{})
		}
		b.deliver(t)
		b.clock.Advance(3*24*time.Hour + time.Minute)

		results := make([]job.SweepResult, 2)
		var wg sync.WaitGroup
		for i, r := range []*job.Runner{b.runner, other} {
			wg.Go(func() {
				res, err := r.SweepOnce(b.ctx)
				if err != nil {
					t.Errorf("SweepOnce: %v", err)
				}
				results[i] = res
			})
		}
		wg.Wait()
		if results[0].Ran == results[1].Ran || results[0].Reminded+results[1].Reminded != n {
			t.Fatalf("sweeps = %+v, want one of them to run and remind %d", results, n)
		}
		holder, idle := b.runner, other
		if results[1].Ran {
			holder, idle = other, b.runner
		}
		// Again, both: the holder renews and finds nothing; the other waits.
		if res, err := idle.SweepOnce(b.ctx); err != nil || res.Ran {
			t.Errorf("SweepOnce(other instance) = %+v, %v; want not run", res, err)
		}
		if res, err := holder.SweepOnce(b.ctx); err != nil || !res.Ran || res.Reminded != 0 {
			t.Errorf("SweepOnce(holder) again = %+v, %v; want ran, no reminders", res, err)
		}
		b.deliver(t)
		for to, c := range perRecipient(b.smtp.Messages()) {
			if c != 2 {
				t.Errorf("%s received %d messages, want 2 (invitation, reminder)", to, c)
			}
		}
		// The holder dies: its lease (2×Sweep + 1 min) runs out.
		b.clock.Advance(3*time.Minute + time.Second)
		if res, err := idle.SweepOnce(b.ctx); err != nil || !res.Ran || res.Reminded != 0 {
			t.Errorf("SweepOnce(other instance after the lease ran out) = %+v, %v; want ran, no reminders", res, err)
		}
	})
}
