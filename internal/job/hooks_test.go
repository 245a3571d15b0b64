package job_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/sqlstore/storetest"
)

// receiver is a webhook endpoint that keeps what it is sent and answers
// the status it is told to.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []hookRequest
	status int
	reply  string // the body it answers
}

type hookRequest struct {
	header http.Header
	body   []byte
	msg    struct {
		Type      string
		Timestamp string
		Data      map[string]string
	}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusNoContent, reply: "thanks"}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		hr := hookRequest{header: req.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &hr.msg); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		r.mu.Lock()
		r.got = append(r.got, hr)
		status, reply := r.status, r.reply
		r.mu.Unlock()
		if status == http.StatusFound {
			w.Header().Set("Location", "http://elsewhere.test/")
		}
		w.WriteHeader(status)
		w.Write([]byte(reply))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(status int) { r.answerWith(status, "thanks") }

// answerWith makes the receiver answer status with body.
func (r *receiver) answerWith(status int, body string) {
	r.mu.Lock()
	r.status, r.reply = status, body
	r.mu.Unlock()
}

// take returns what arrived since the last take.
func (r *receiver) take() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// verify checks a request's signature as a receiver would, from the
// Standard Webhooks specification: base64 HMAC-SHA256 keyed with the
// secret's decoded bytes, over "id.timestamp.body".
func verify(t *testing.T, secret string, r hookRequest) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) != 32 {
		t.Fatalf("secret %q: %v (%d bytes)", secret, err, len(key))
	}
	id, ts := r.header.Get("webhook-id"), r.header.Get("webhook-timestamp")
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || id == "" {
		t.Fatalf("webhook-id %q, webhook-timestamp %q", id, ts)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(r.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if got := r.header.Get("webhook-signature"); got != want {
		t.Errorf("webhook-signature = %q, want %q", got, want)
	}
}

func (b *bundle) hooks(t *testing.T) int {
	t.Helper()
	total := 0
	for {
		n, err := b.runner.DeliverHooksOnce(b.ctx)
		if err != nil {
			t.Fatalf("DeliverHooksOnce: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func (b *bundle) hookMessages(t *testing.T, id string) []invite.WebhookMessage {
	t.Helper()
	msgs, err := b.svc.WebhookMessages(b.ctx, b.owner, b.org.Slug, id, 100)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{cfg: job.Config{HookPrivate: true}}) // the receiver is on 127.0.0.1
		// An API key's create takes the one-statement path while the
		// organization has no endpoint, and must not once it has one, even
		// with the organization remembered from before.
		keySecret, _, err := b.svc.CreateAPIKey(b.ctx, b.org.Slug, "", invite.System)
		if err != nil {
			t.Fatal(err)
		}
		key, err := b.svc.AuthenticateKey(b.ctx, keySecret)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.Invite(b.ctx, key, b.org.Slug, "before@example.test", invite.Options{}); err != nil {
			t.Fatal(err)
		}

		rcv := newReceiver(t)
		for _, bad := range []string{"", "ftp://x.test/", "http://user:pw@x.test/", "/relative"} {
			if _, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, bad, ""); err == nil {
				t.Errorf("CreateWebhook(%q) accepted", bad)
			}
		}
		hook, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, rcv.URL+"/hooks", "CRM")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(hook.Secret, "whsec_") {
			t.Fatalf("secret %q", hook.Secret)
		}
		// (The organization as remembered still has no endpoint: only the
		// statement's guard can tell.)
		byKey, err := b.svc.Invite(b.ctx, key, b.org.Slug, "bykey@example.test", invite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		list, err := b.svc.Webhooks(b.ctx, b.owner, b.org.Slug)
		if err != nil || len(list) != 1 || list[0].Secret != "" || list[0].URL != rcv.URL+"/hooks" {
			t.Fatalf("Webhooks = %+v, %v; want the endpoint without its secret", list, err)
		}

		ana := b.invite(t, "ana@example.test", invite.Options{FirstName: "Ana"})
		// Another organization's events are not this endpoint's.
		other, err := b.svc.CreateOrg(b.ctx, "Other", "", "owner@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.Invite(b.ctx, b.owner, other.Slug, "x@example.test", invite.Options{}); err != nil {
			t.Fatal(err)
		}
		if n := b.hooks(t); n != 2 {
			t.Fatalf("delivered %d messages, want 2 (two invitations created)", n)
		}
		got := rcv.take()
		ids := map[string]bool{}
		for _, r := range got {
			verify(t, hook.Secret, r)
			if r.msg.Type != "invitation.created" || r.msg.Data["organization"] != b.org.Slug ||
				r.msg.Data["to"] != "pending" || r.header.Get("webhook-id") != r.msg.Data["id"] {
				t.Errorf("message %s", r.body)
			}
			if _, err := time.Parse(time.RFC3339Nano, r.msg.Timestamp); err != nil {
				t.Errorf("timestamp %q: %v", r.msg.Timestamp, err)
			}
			ids[r.msg.Data["invitation_id"]] = true
		}
		if !ids[byKey.Invitation.ID] || !ids[ana.Invitation.ID] {
			t.Errorf("messages for %v, want %s (API key) and %s", ids, byKey.Invitation.ID, ana.Invitation.ID)
		}

		// Email delivery outcomes are announced too: three emails went out
		// now, one of them for the invitation made before the endpoint.
		b.deliver(t)
		if n := b.hooks(t); n != 3 {
			t.Errorf("delivered %d messages after sending email, want 3 (email_sent ×3)", n)
		}
		for _, r := range rcv.take() {
			if r.msg.Type != "invitation.email_sent" {
				t.Errorf("after sending email: %s", r.body)
			}
		}

		// A failing endpoint is tried again later, then delivered to.
		rcv.answer(http.StatusInternalServerError)
		if _, err := b.svc.Accept(b.ctx, ana.Link[strings.LastIndexByte(ana.Link, '/')+1:], invite.Registration{Password: "correct horse battery", LastName: "Silva"}); err != nil {
			t.Fatal(err)
		}
		if n := b.hooks(t); n != 1 {
			t.Fatalf("delivered %d, want 1 attempt", n)
		}
		msgs := b.hookMessages(t, hook.ID)
		if m := msgs[0]; m.Type != "invitation.accepted" || m.Status != invite.HookQueued || m.Attempts != 1 ||
			m.LastStatus != 500 || !strings.Contains(m.LastError, "thanks") || m.NextAttempt == nil ||
			!m.NextAttempt.Equal(b.clock.Now().Add(5*time.Second)) {
			t.Fatalf("after a failure: %+v", m)
		}
		if n := b.hooks(t); n != 0 {
			t.Errorf("retried %d before its time", n)
		}
		rcv.answer(http.StatusOK)
		b.clock.Advance(5 * time.Second)
		if n := b.hooks(t); n != 1 {
			t.Fatalf("retry delivered %d, want 1", n)
		}
		got = rcv.take()
		if len(got) != 2 || got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") {
			t.Errorf("the retry should carry the first attempt's webhook-id")
		}
		verify(t, hook.Secret, got[1])
		if m := b.hookMessages(t, hook.ID)[0]; m.Status != invite.HookDelivered || m.DeliveredAt == nil || m.NextAttempt != nil {
			t.Errorf("after the retry: %+v", m)
		}

		// An endpoint that never answers 2xx (here: a redirect, not
		// followed) is given up on after eight attempts.
		rcv.answer(http.StatusFound)
		if _, err := b.svc.Revoke(b.ctx, b.owner, b.org.Slug, byKey.Invitation.ID); err != nil {
			t.Fatal(err)
		}
		for attempt := 1; attempt <= 8; attempt++ {
			if n := b.hooks(t); n != 1 {
				t.Fatalf("attempt %d: delivered %d, want 1", attempt, n)
			}
			b.clock.Advance(11 * time.Hour)
		}
		if n := b.hooks(t); n != 0 {
			t.Errorf("tried again after giving up")
		}
		if m := b.hookMessages(t, hook.ID)[0]; m.Type != "invitation.revoked" || m.Status != invite.HookFailed ||
			m.Attempts != 8 || m.LastStatus != http.StatusFound {
			t.Errorf("given up: %+v", m)
		}
		if got := rcv.take(); len(got) != 8 {
			t.Errorf("the endpoint saw %d attempts, want 8", len(got))
		}

		// Deleting the endpoint removes its messages and stops them.
		if err := b.svc.DeleteWebhook(b.ctx, b.owner, b.org.Slug, hook.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.WebhookMessages(b.ctx, b.owner, b.org.Slug, hook.ID, 10); err == nil {
			t.Error("a deleted endpoint's messages are still listed")
		}
		b.invite(t, "after@example.test", invite.Options{})
		if _, err := b.svc.Invite(b.ctx, key, b.org.Slug, "after2@example.test", invite.Options{}); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := b.store.DB().QueryRowContext(b.ctx, `SELECT count(*) FROM webhook_messages`).Scan(&left); err != nil || left != 0 {
			t.Errorf("%d webhook messages left after deleting the endpoint (%v)", left, err)
		}
	})
}

// TestWebhookPermissions: only who manages the settings sees or changes
// the endpoints; another organization's are not found.
func TestWebhookPermissions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		hook, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, "https://crm.example.test/hooks", "")
		if err != nil {
			t.Fatal(err)
		}
		member, err := b.svc.CreateUser(b.ctx, "member@acme.test", "correct horse battery", false)
		if err != nil {
			t.Fatal(err)
		}
		stranger := invite.Actor{UserID: member.ID, Email: member.Email}
		if _, err := b.svc.Webhooks(b.ctx, stranger, b.org.Slug); err == nil {
			t.Error("a non-member listed the endpoints")
		}
		if _, err := b.svc.CreateWebhook(b.ctx, stranger, b.org.Slug, "https://evil.test/", ""); err == nil {
			t.Error("a non-member added an endpoint")
		}
		other, err := b.svc.CreateOrg(b.ctx, "Other", "", member.Email)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.svc.DeleteWebhook(b.ctx, stranger, other.Slug, hook.ID); err == nil {
			t.Error("another organization's owner deleted the endpoint")
		}
		if _, err := b.svc.WebhookMessages(b.ctx, stranger, other.Slug, hook.ID, 10); err == nil {
			t.Error("another organization's owner listed the endpoint's messages")
		}
		for range invite.MaxWebhooks - 3 {
			if _, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, "https://crm.example.test/more", ""); err != nil {
				t.Fatal(err)
			}
		}
		// Simultaneous adds past the bound: only as many as fit go in.
		var wg sync.WaitGroup
		var added atomic.Int32
		for range 6 {
			wg.Go(func() {
				if _, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, "https://crm.example.test/race", ""); err == nil {
					added.Add(1)
				}
			})
		}
		wg.Wait()
		if hooks, err := b.svc.Webhooks(b.ctx, b.owner, b.org.Slug); err != nil || len(hooks) != invite.MaxWebhooks || added.Load() != 2 {
			t.Errorf("6 simultaneous adds to 8 endpoints: %d went in, %d endpoints (%v); want 2 and %d", added.Load(), len(hooks), err, invite.MaxWebhooks)
		}
		if _, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, "https://crm.example.test/one-too-many", ""); err == nil {
			t.Errorf("an organization got more than %d endpoints", invite.MaxWebhooks)
		}
	})
}

// TestWebhooksTwoInstances: two instances delivering at once send each
// message once.
func TestWebhooksTwoInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{cfg: job.Config{HookPrivate: true}})
		rcv := newReceiver(t)
		if _, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, rcv.URL, ""); err != nil {
			t.Fatal(err)
		}
		const n = 120
		emails := make([]string, n)
		for i := range emails {
			emails[i] = addr(i)
		}
		if _, err := b.svc.InviteMany(b.ctx, b.owner, b.org.Slug, emails, invite.Options{NoEmail: true}, false); err != nil {
			t.Fatal(err)
		}
		runners := []*job.Runner{b.runner, b.newRunner(job.Config{HookPrivate: true})}
		var wg sync.WaitGroup
		for _, r := range runners {
			wg.Go(func() {
				for {
					got, err := r.DeliverHooksOnce(b.ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if got == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, r := range rcv.take() {
			seen[r.header.Get("webhook-id")]++
		}
		if len(seen) != n {
			t.Errorf("%d distinct messages arrived, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("message %s arrived %d times", id, c)
			}
		}
	})
}

// TestWebhooksPublicOnly: by default an endpoint on this machine or its
// network is not reached, and says why.
func TestWebhooksPublicOnly(t *testing.T) {
	b := setup(t, storetest.Engines()[0], options{})
	rcv := newReceiver(t)
	hook, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, rcv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	b.invite(t, "ana@example.test", invite.Options{})
	if n := b.hooks(t); n != 1 {
		t.Fatalf("attempted %d, want 1", n)
	}
	if got := rcv.take(); len(got) != 0 {
		t.Errorf("a loopback endpoint was reached: %d requests", len(got))
	}
	if m := b.hookMessages(t, hook.ID)[0]; m.Status != invite.HookQueued || m.LastStatus != 0 ||
		!strings.Contains(m.LastError, "127.0.0.1 is not a public address") {
		t.Errorf("message to a loopback endpoint: %+v", m)
	}
}

// TestWebhookErrorText: what a failing endpoint answers is kept as valid
// text, bounded, whatever its bytes.
func TestWebhookErrorText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{cfg: job.Config{HookPrivate: true}})
		rcv := newReceiver(t)
		rcv.answerWith(http.StatusBadGateway, "\x00bad\xff\x1b[31m"+strings.Repeat("é", 300))
		hook, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, rcv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		b.invite(t, "ana@example.test", invite.Options{})
		if n := b.hooks(t); n != 1 {
			t.Fatalf("attempted %d, want 1", n)
		}
		m := b.hookMessages(t, hook.ID)[0]
		if m.Attempts != 1 || m.LastStatus != http.StatusBadGateway || !utf8.ValidString(m.LastError) ||
			strings.ContainsAny(m.LastError, "\x00\x1b") || !strings.HasSuffix(m.LastError, "é…") ||
			utf8.RuneCountInString(m.LastError) > 300 {
			t.Errorf("last error %q (%+v)", m.LastError, m)
		}
	})
}

// TestWebhookEmailFailed: an invitation email the mail server refuses for
// good is announced as invitation.email_failed, with the reason.
func TestWebhookEmailFailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{cfg: job.Config{HookPrivate: true}})
		rcv := newReceiver(t)
		if _, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, rcv.URL, ""); err != nil {
			t.Fatal(err)
		}
		b.smtp.RejectRecipient("nobody@example.test", 550, "no such mailbox")
		b.invite(t, "nobody@example.test", invite.Options{})
		b.deliver(t)
		b.hooks(t)
		types := map[string]string{}
		for _, r := range rcv.take() {
			types[r.msg.Type] = r.msg.Data["detail"]
		}
		if d, ok := types["invitation.email_failed"]; !ok || !strings.Contains(d, "no such mailbox") || len(types) != 2 {
			t.Errorf("messages = %v, want invitation.created and invitation.email_failed with the reason", types)
		}
	})
}
