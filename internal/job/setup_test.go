package job_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/mail"
	"usher/internal/mail/smtptest"
	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
)

// clock is a test clock: tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// bundle is what every test gets: a service on a real store, an
// organization "acme" and its owner, an in-process SMTP server and a
// runner that delivers to it.
type bundle struct {
	ctx      context.Context
	store    *sqlstore.Store
	svc      *invite.Service
	clock    *clock // nil with realTime
	owner    invite.Actor
	org      *account.Organization
	smtp     *smtptest.Server
	renderer *mail.Renderer
	sender   *mail.SMTPSender
	runner   *job.Runner
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

const baseURL = "http://usher.test"

type options struct {
	realTime bool // the service and runner use the wall clock (for Run)
	cfg      job.Config
	smtpOpts []smtptest.Option
}

func setup(t testing.TB, e storetest.Engine, opt options) *bundle {
	t.Helper()
	ctx := context.Background()
	store := storetest.Open(t, e)
	b := &bundle{ctx: ctx, store: store}
	var now invite.Clock
	if !opt.realTime {
		b.clock = &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
		now = b.clock.Now
	}
	tokens, err := invite.NewTokens(testKey)
	if err != nil {
		t.Fatal(err)
	}
	b.svc = invite.New(store, now, account.NewHasher(4), tokens, invite.Config{BaseURL: baseURL}, nil)
	u, err := b.svc.CreateUser(ctx, "owner@acme.test", "correct horse battery", false)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if b.org, err = b.svc.CreateOrg(ctx, "Acme Corp", "", u.Email); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	b.owner = invite.Actor{UserID: u.ID, Email: u.Email}
	b.smtp = smtptest.NewServer(t, opt.smtpOpts...)
	cfg, err := mail.ParseSMTPURL(b.smtp.URL())
	if err != nil {
		t.Fatal(err)
	}
	if b.sender, err = mail.NewSMTPSender(cfg, "usher <no-reply@usher.test>", mail.WithTimeout(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if b.renderer, err = mail.NewRenderer(); err != nil {
		t.Fatal(err)
	}
	b.runner = b.newRunner(opt.cfg)
	return b
}

// newRunner returns another runner on the bundle's store and SMTP server
// (another instance, as far as leases go).
func (b *bundle) newRunner(cfg job.Config) *job.Runner {
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 50 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 200 * time.Millisecond
	}
	return job.New(cfg, b.store, b.svc, b.renderer, b.sender, nil)
}

// invite invites email with opt.
func (b *bundle) invite(t testing.TB, email string, opt invite.Options) *invite.Created {
	t.Helper()
	c, err := b.svc.Invite(b.ctx, b.owner, b.org.Slug, email, opt)
	if err != nil {
		t.Fatalf("Invite(%q): %v", email, err)
	}
	return c
}

// deliver runs DeliverOnce until nothing is due and returns how many
// emails were handled.
func (b *bundle) deliver(t testing.TB) int {
	t.Helper()
	total := 0
	for {
		n, err := b.runner.DeliverOnce(b.ctx)
		if err != nil {
			t.Fatalf("DeliverOnce: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// get reads an invitation as its organization's owner sees it.
func (b *bundle) get(t testing.TB, id string) *invite.Invitation {
	t.Helper()
	inv, err := b.svc.Get(b.ctx, b.owner, b.org.Slug, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return inv
}

// outboxRow is an outbox email's delivery bookkeeping.
type outboxRow struct {
	Kind, Status, LastError string
	Attempts                int
}

// outbox lists the outbox rows of an invitation, oldest first.
func (b *bundle) outbox(t testing.TB, invitationID string) []outboxRow {
	t.Helper()
	rows, err := b.store.DB().QueryContext(b.ctx, `SELECT kind, status, last_error, attempts FROM outbox
		WHERE invitation_id = $1 ORDER BY created_at, id`, invitationID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.Kind, &r.Status, &r.LastError, &r.Attempts); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countOutbox counts all outbox rows.
func (b *bundle) countOutbox(t testing.TB) int {
	t.Helper()
	var n int
	if err := b.store.DB().QueryRowContext(b.ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// perRecipient counts received messages by recipient.
func perRecipient(msgs []smtptest.Received) map[string]int {
	n := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			n[strings.ToLower(to)]++
		}
	}
	return n
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func addr(i int) string { return fmt.Sprintf("person%04d@example.test", i) }
