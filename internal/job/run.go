package job

import (
	"context"
	"sync"
	"time"
)

// sweepLease names the lease that makes one instance run the sweeps.
const sweepLease = "sweeps"

// Run delivers due email and webhook messages and runs the periodic
// sweeps until ctx ends. A round in flight finishes before Run returns.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.drain(ctx, "deliver email", r.DeliverOnce, r.wake) })
	wg.Go(func() { r.drain(ctx, "deliver webhooks", r.DeliverHooksOnce, nil) })
	wg.Go(func() { r.sweepLoop(ctx) })
	wg.Wait()
}

// drain runs once until it handles nothing, then waits for the next poll
// or a wake, until ctx ends.
func (r *Runner) drain(ctx context.Context, what string, once func(context.Context) (int, error), wake <-chan struct{}) {
	tick := time.NewTicker(r.cfg.Poll)
	defer tick.Stop()
	for {
		for ctx.Err() == nil {
			n, err := once(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error(what, "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-wake:
		}
	}
}

func (r *Runner) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(r.cfg.Sweep)
	defer tick.Stop()
	for {
		if _, err := r.SweepOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Ran      bool // false: another instance holds the lease
	Expired  int
	Reminded int
	Purged   int64
	// StaleImports counts imports marked failed because their instance
	// died mid-way.
	StaleImports int
}

// SweepOnce records expiries, queues due reminders, fails abandoned
// imports and forgets old idempotency keys, if this instance holds the sweep lease (it takes it
// when free or run out). Each step is safe to repeat.
func (r *Runner) SweepOnce(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	got, err := r.store.AcquireLease(ctx, sweepLease, r.cfg.Owner, r.now(), 2*r.cfg.Sweep+time.Minute)
	if err != nil || !got {
		return res, err
	}
	res.Ran = true
	if res.Expired, err = r.svc.ExpireDue(ctx); err != nil {
		return res, err
	}
	if res.Reminded, err = r.svc.RemindDue(ctx); err != nil {
		return res, err
	}
	if res.Reminded > 0 {
		r.Wake()
	}
	// An import whose instance died while reading its file would
	// stay "processing" for ever: after an hour, it is marked failed.
	if res.StaleImports, err = r.svc.SweepImports(ctx, staleImport); err != nil {
		return res, err
	}
	res.Purged, err = r.store.PurgeIdempotency(ctx, r.now().Add(-25*time.Hour))
	return res, err
}

// staleImport is how long an import may stay in processing
// before a sweep marks it failed (a 100,000-row file takes seconds).
const staleImport = time.Hour
