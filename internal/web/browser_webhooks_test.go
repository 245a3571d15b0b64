package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"usher/internal/invite"
)

// TestBrowserWebhooks: an admin adds an endpoint and sees its secret once,
// follows what was delivered to it, and deletes it.
func TestBrowserWebhooks(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	var mu sync.Mutex
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)

	p := j.person("admin")
	p.signInAdmin()
	p.open("/admin/orgs/acme/webhooks", "#url")
	p.wantText("main", "No endpoints yet")
	p.shot("no-endpoints")

	p.typeIn("#url", "not a url")
	p.do("submit past the browser's own check", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(document.querySelector("#url").type = "text", true)`)(ctx, t)
		return err
	}))
	p.click(`form[action$="/webhooks"] button[type=submit]`, ".notice.bad")
	p.wantText(".notice.bad", "absolute http or https URL")
	p.shot("bad-url")

	p.typeIn("#url", rcv.URL+"/usher")
	p.typeIn("#description", "CRM <sync>")
	p.click(`form[action$="/webhooks"] button[type=submit]`, "#webhook-secret")
	secret, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector("#secret").value`))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown = %q, %v", secret, err)
	}
	p.wantText("#webhooks", "CRM <sync>")
	p.shot("secret-shown-once")
	p.open("/admin/orgs/acme/webhooks", "#webhooks")
	if strings.Contains(p.text("main"), secret) {
		t.Error("the secret is shown again")
	}

	owner := invite.Actor{UserID: j.owner.ID, Email: j.owner.Email}
	if _, err := j.svc.Invite(j.ctx, owner, "acme", "hooked@example.com", invite.Options{}); err != nil {
		t.Fatal(err)
	}
	if n, err := j.runner.DeliverHooksOnce(j.ctx); err != nil || n != 1 {
		t.Fatalf("DeliverHooksOnce = %d, %v; want 1", n, err)
	}
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0], `"invitation.created"`) {
		t.Errorf("the endpoint got %q", got)
	}
	mu.Unlock()

	p.click(`#webhooks a`, "#messages")
	p.wantText("#messages", "invitation.created")
	p.wantText("#messages", "hooked@example.com")
	p.wantText("#messages", "delivered")
	p.wantText("#messages", "HTTP 204")
	p.shot("messages")

	p.open("/admin/orgs/acme/webhooks", "#webhooks")
	p.do("accept the confirmation", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(window.confirm = () => true, true)`)(ctx, t)
		return err
	}))
	p.click(`#webhooks button.danger`, ".flash.ok")
	p.wantText("main", "No endpoints yet")
	p.shot("deleted")
}
