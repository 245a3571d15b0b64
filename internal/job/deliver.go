// Package job is usher's background work: delivering due email from the
// outbox and due webhook messages, and the periodic sweeps (expiry,
// reminders, clean-up). Every instance delivers; sweeps run on whichever
// instance holds their lease.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"usher/internal/invite"
	"usher/internal/mail"
	"usher/internal/sqlstore"
)

// Config tunes delivery.
type Config struct {
	// Owner names this instance in leases.
	Owner string
	// Batch is how many due emails one delivery round claims.
	Batch int
	// Lease is how long a claimed email is reserved for this instance;
	// after that, another instance may send it.
	Lease time.Duration
	// RetryBase is the first wait after a temporary failure; it doubles
	// with each attempt up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxAttempts gives up on an email after that many temporary failures.
	MaxAttempts int
	// Rate caps messages per second (0: no cap).
	Rate float64
	// Poll is how often to look for due email when nothing woke us.
	Poll time.Duration
	// Sweep is how often expiry and reminders run.
	Sweep time.Duration
	// HookPrivate lets webhooks reach loopback and private network
	// addresses (hooks.go); off, only public ones.
	HookPrivate bool
}

func (c *Config) defaults() {
	if c.Owner == "" {
		c.Owner = invite.NewID()
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 5 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 30
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Sweep <= 0 {
		c.Sweep = time.Minute
	}
}

// Runner does the background work of one instance.
type Runner struct {
	cfg      Config
	store    *sqlstore.Store
	svc      *invite.Service
	renderer *mail.Renderer
	// sender delivers over SMTP; nil means the built-in mailbox.
	sender  mail.Sender
	now     func() time.Time
	log     *slog.Logger
	limiter *rate.Limiter
	wake    chan struct{}
	// hookClient sends webhook messages (hooks.go).
	hookClient *http.Client
}

// New returns a Runner. A nil sender keeps mail in the built-in mailbox.
func New(cfg Config, store *sqlstore.Store, svc *invite.Service, renderer *mail.Renderer, sender mail.Sender, log *slog.Logger) *Runner {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, store: store, svc: svc, renderer: renderer, sender: sender, now: svc.Now, log: log,
		wake: make(chan struct{}, 1), hookClient: newHookClient(cfg.HookPrivate)}
	if cfg.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(math.Ceil(cfg.Rate))))
	}
	return r
}

// Wake asks the delivery loop to look for due email now (after a commit
// that queued some), instead of at the next poll.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// DeliverOnce claims one batch of due email, renders and sends it, and
// records the outcomes. It returns how many emails it handled.
//
// One batch is in flight per Runner at a time, so an instance that dies
// leaves at most one batch (claimLimit emails) sent but not marked sent;
// those are sent again once their lease runs out.
func (r *Runner) DeliverOnce(ctx context.Context) (int, error) {
	t0 := time.Now()
	claimed, err := r.store.ClaimEmails(ctx, r.cfg.Owner, r.now(), r.cfg.Lease, r.claimLimit())
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	t1 := time.Now()
	results := make([]sqlstore.EmailResult, len(claimed))
	for i, e := range claimed {
		results[i].Email = e
	}
	// The claims stay leased if this fails: the emails are tried again
	// when the lease runs out.
	b, err := r.load(ctx, claimed)
	if err != nil {
		return 0, fmt.Errorf("job: load email batch: %w", err)
	}
	all := r.renderAll(b, claimed)
	t2 := time.Now()
	var msgs []mail.Message
	var idx []int // msgs[i] is for claimed[idx[i]]
	for i, m := range all {
		switch {
		case m.err != nil:
			results[i].Permanent, results[i].Error = true, m.err.Error()
			r.log.Error("render email", "kind", claimed[i].Kind, "email_id", claimed[i].ID, "err", m.err)
		case m.skip != "":
			// Stale (the invitation moved on): nothing to send.
			results[i].Skipped, results[i].Error = true, m.skip
		default:
			msgs = append(msgs, m.msg)
			idx = append(idx, i)
		}
	}
	if len(msgs) > 0 {
		if r.limiter != nil {
			if err := r.limiter.WaitN(ctx, len(msgs)); err != nil {
				// Cancelled before sending anything: release the claims.
				for _, i := range idx {
					results[i].RetryAt, results[i].Error = r.now(), "not sent: "+err.Error()
				}
				msgs = nil
			}
		}
		if len(msgs) > 0 {
			stop := r.keepLeases(ctx, claimed)
			errs := r.send(ctx, claimed, idx, msgs)
			stop()
			for j, err := range errs {
				r.outcome(&results[idx[j]], err)
			}
		}
	}
	t3 := time.Now()
	if err := r.complete(context.WithoutCancel(ctx), results); err != nil {
		return 0, err
	}
	r.log.Debug("email batch", "emails", len(claimed), "sent", len(msgs), "claim", t1.Sub(t0),
		"render", t2.Sub(t1), "send", t3.Sub(t2), "complete", time.Since(t3))
	return len(claimed), ctx.Err()
}

// complete records the outcomes of a batch, even when ctx was cancelled
// mid-send, and tries a few times over some seconds: emails that went out
// but are not marked sent go out again when their lease runs out.
func (r *Runner) complete(ctx context.Context, results []sqlstore.EmailResult) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.store.CompleteEmails(ctx, r.now(), results)
		if err == nil || attempt == 5 {
			return err
		}
		r.log.Warn("record email outcomes; trying again", "attempt", attempt, "err", err)
		time.Sleep(wait)
		wait *= 2
	}
}

// keepLeases renews the lease on claimed every third of the lease while
// a batch is being sent (a slow or tarpitting server can make a batch
// outlast its lease), so that no other instance sends them meanwhile. The
// returned func stops it and waits for a renewal in progress.
func (r *Runner) keepLeases(ctx context.Context, claimed []sqlstore.OutboxEmail) (stop func()) {
	ids := make([]string, len(claimed))
	for i, e := range claimed {
		ids[i] = e.ID
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(r.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				n, err := r.store.ExtendLeases(ctx, r.cfg.Owner, ids, r.now().Add(r.cfg.Lease))
				if err != nil && ctx.Err() == nil {
					r.log.Warn("extend email leases", "err", err)
				} else if err == nil && n < int64(len(ids)) {
					r.log.Warn("email leases lost to another instance while sending", "lost", int64(len(ids))-n)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// claimLimit is how many emails one round claims: Batch, and with a send
// rate at most one second's worth, so that waiting for the rate limiter
// never outlasts the lease and no batch bursts past the rate.
func (r *Runner) claimLimit() int {
	if r.limiter == nil {
		return r.cfg.Batch
	}
	return min(r.cfg.Batch, r.limiter.Burst())
}

// send delivers msgs through SMTP, or keeps them in the built-in mailbox.
func (r *Runner) send(ctx context.Context, claimed []sqlstore.OutboxEmail, idx []int, msgs []mail.Message) []error {
	if r.sender != nil {
		return r.sender.Send(ctx, msgs)
	}
	now := r.now()
	box := make([]sqlstore.MailboxMessage, len(msgs))
	for j, m := range msgs {
		box[j] = sqlstore.MailboxMessage{ID: invite.NewID(), OutboxID: claimed[idx[j]].ID, To: m.To, Subject: m.Subject,
			Text: m.Text, HTML: m.HTML, SentAt: now}
	}
	errs := make([]error, len(msgs))
	if err := r.store.SaveMailbox(ctx, box); err != nil {
		for j := range errs {
			errs[j] = err
		}
	}
	return errs
}

// outcome fills res from a send error: sent, retry later, or give up.
func (r *Runner) outcome(res *sqlstore.EmailResult, err error) {
	if err == nil {
		res.Sent = true
		return
	}
	res.Error = err.Error()
	var de *mail.DeliveryError
	temporary := !errors.As(err, &de) || de.Temporary
	if !temporary || res.Email.Attempts >= r.cfg.MaxAttempts {
		res.Permanent = true
		if temporary {
			res.Error = fmt.Sprintf("gave up after %d attempts: %s", res.Email.Attempts, res.Error)
		}
		r.log.Warn("email failed", "kind", res.Email.Kind, "email_id", res.Email.ID, "err", res.Error)
		return
	}
	res.RetryAt = r.now().Add(r.backoff(res.Email.Attempts))
	r.log.Info("email will be retried", "kind", res.Email.Kind, "email_id", res.Email.ID, "attempt", res.Email.Attempts, "at", res.RetryAt, "err", err)
}

// backoff is the wait after the attempt-th failure: exponential from
// RetryBase, capped at RetryMax, with ±20 % jitter so that a burst of
// failures does not retry in lockstep.
func (r *Runner) backoff(attempt int) time.Duration {
	d := r.cfg.RetryBase
	for i := 1; i < attempt && d < r.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, r.cfg.RetryMax)
	return d + time.Duration(float64(d)*(rand.Float64()*0.4-0.2))
}
