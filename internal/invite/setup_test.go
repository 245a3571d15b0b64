package invite_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
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
// organization "acme" with a group, and its owner.
type bundle struct {
	ctx   context.Context
	svc   *invite.Service
	store *sqlstore.Store
	clock *clock
	owner invite.Actor
	org   *account.Organization
	group *account.Group
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func setup(t *testing.T, e storetest.Engine) *bundle {
	t.Helper()
	ctx := context.Background()
	store := storetest.Open(t, e)
	clk := &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	tokens, err := invite.NewTokens(testKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := invite.New(store, clk.Now, account.NewHasher(4), tokens,
		invite.Config{BaseURL: "http://usher.test", PersonalOrgs: true}, nil)
	u, err := svc.CreateUser(ctx, "owner@acme.test", "correct horse battery", false)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	org, err := svc.CreateOrg(ctx, "Acme Corp", "", u.Email)
	if err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	owner := invite.Actor{UserID: u.ID, Email: u.Email}
	g, err := svc.CreateGroup(ctx, owner, org.Slug, "Neighborhood A")
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	return &bundle{ctx: ctx, svc: svc, store: store, clock: clk, owner: owner, org: org, group: g}
}

// token extracts the token from an accept link.
func token(t *testing.T, link string) string {
	t.Helper()
	i := strings.LastIndex(link, "/i/")
	if i < 0 {
		t.Fatalf("link %q has no /i/", link)
	}
	return link[i+3:]
}

// wantCode fails unless err is a domain error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := invite.CodeOf(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// invite invites email with opt and returns the result.
func (b *bundle) invite(t *testing.T, email string, opt invite.Options) *invite.Created {
	t.Helper()
	c, err := b.svc.Invite(b.ctx, b.owner, b.org.Slug, email, opt)
	if err != nil {
		t.Fatalf("Invite(%q): %v", email, err)
	}
	return c
}

// outbox drains the due emails of kind for to.
func (b *bundle) outbox(t *testing.T) []sqlstore.OutboxEmail {
	t.Helper()
	got, err := b.store.ClaimEmails(b.ctx, "test", b.clock.Now(), time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var results []sqlstore.EmailResult
	for _, e := range got {
		results = append(results, sqlstore.EmailResult{Email: e, Sent: true})
	}
	if err := b.store.CompleteEmails(b.ctx, b.clock.Now(), results); err != nil {
		t.Fatal(err)
	}
	return got
}

func kinds(emails []sqlstore.OutboxEmail) []string {
	var out []string
	for _, e := range emails {
		out = append(out, e.Kind+":"+e.To)
	}
	return out
}
