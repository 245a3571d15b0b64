package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
	"usher/internal/web"
)

// testClock is moved by tests instead of sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a running usher HTTP server on a real store, with an
// organization "acme" owned by boss@acme.test, a group "Neighborhood A",
// and an API key for acme.
type env struct {
	t      *testing.T
	ctx    context.Context
	srv    *httptest.Server
	svc    *invite.Service
	store  *sqlstore.Store
	clock  *testClock
	key    string // API key of acme
	org    *account.Organization
	owner  *account.User
	client *http.Client
}

func newEnv(t *testing.T, e storetest.Engine) *env {
	t.Helper()
	return newEnvWith(t, e, envOptions{})
}

// envOptions vary an env.
type envOptions struct {
	empty      bool   // no account, organization or key at all
	setupToken string // the first-admin setup link's token
}

func newEnvWith(t *testing.T, e storetest.Engine, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	store := storetest.Open(t, e)
	clk := &testClock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
	tokens, err := invite.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if os.Getenv("USHER_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ev := &env{t: t, ctx: ctx, store: store, clock: clk, client: &http.Client{Timeout: 30 * time.Second}}
	ev.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + ev.srv.Listener.Addr().String()
	ev.svc = invite.New(store, clk.Now, account.NewHasher(4), tokens, invite.Config{BaseURL: base, PersonalOrgs: true}, log)
	ev.srv.Config.Handler = web.NewServer(web.Deps{Service: ev.svc, Store: store, Log: log,
		Config: web.Config{BaseURL: base, Mailbox: true, SetupToken: o.setupToken}})
	ev.srv.Start()
	t.Cleanup(ev.srv.Close)
	if o.empty {
		return ev
	}

	if ev.owner, err = ev.svc.CreateUser(ctx, "boss@acme.test", "correct horse battery", true); err != nil {
		t.Fatal(err)
	}
	if ev.org, err = ev.svc.CreateOrg(ctx, "Acme", "acme", ev.owner.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.svc.CreateGroup(ctx, invite.Actor{UserID: ev.owner.ID}, "acme", "Neighborhood A"); err != nil {
		t.Fatal(err)
	}
	if ev.key, _, err = ev.svc.CreateAPIKey(ctx, "acme", "test", invite.System); err != nil {
		t.Fatal(err)
	}
	return ev
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// do sends a request with the given auth (an API key, or "" for none)
// and body (marshalled to JSON unless it is a string or nil).
func (ev *env) do(method, path, key string, body any, headers ...string) response {
	ev.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			ev.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ev.ctx, method, ev.srv.URL+path, rd)
	if err != nil {
		ev.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := ev.client.Do(req)
	if err != nil {
		ev.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		ev.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// want fails unless r has status (and, for problems, code).
func (ev *env) want(r response, status int, code string) map[string]any {
	ev.t.Helper()
	if r.Status != status {
		ev.t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	m := r.JSON(ev.t)
	if code != "" && m["code"] != code {
		ev.t.Fatalf("code = %v, want %q; body %s", m["code"], code, r.Body)
	}
	return m
}

// decodeList decodes a JSON array of objects.
func decodeList(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("body %q is not a JSON array: %v", b, err)
	}
	return out
}
