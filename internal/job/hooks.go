package job

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"usher/internal/sqlstore"
)

// Webhook messages are POSTed as the Standard Webhooks scheme says: the
// body is {"type", "timestamp", "data"}; the headers webhook-id (the
// event's id, the same on every attempt), webhook-timestamp (Unix
// seconds) and webhook-signature ("v1," and the base64 HMAC-SHA256, keyed
// with the secret's bytes, of "id.timestamp.body"). A 2xx answer delivers
// the message; anything else, or no answer within hookTimeout, is tried
// again after hookRetries, and the message is marked failed after the last.

// hookRetries are the waits after each failed attempt: Standard Webhooks'
// suggested schedule: eight attempts over some 28 hours.
var hookRetries = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// hookTimeout bounds one webhook request.
const hookTimeout = 10 * time.Second

// hookBatch is how many messages one round claims; hookParallel how many
// requests it has in flight.
const (
	hookBatch    = 50
	hookParallel = 8
)

// hookPayload is a message's body.
type hookPayload struct {
	Type      string   `json:"type"`
	Timestamp string   `json:"timestamp"`
	Data      hookData `json:"data"`
}

type hookData struct {
	ID           string `json:"id"`
	Organization string `json:"organization"`
	InvitationID string `json:"invitation_id"`
	Email        string `json:"email"`
	From         string `json:"from"`
	To           string `json:"to"`
	Actor        string `json:"actor"`
	Detail       string `json:"detail"`
}

// hookSignature signs body as message id sent at ts with secret
// ("whsec_…"): the webhook-signature header's value.
func hookSignature(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("job: webhook secret: %w", err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// DeliverHooksOnce claims one batch of due webhook messages, sends them
// and records the outcomes. It returns how many it handled.
func (r *Runner) DeliverHooksOnce(ctx context.Context) (int, error) {
	now := r.now()
	claimed, err := r.store.ClaimHooks(ctx, r.cfg.Owner, now, r.cfg.Lease, hookBatch)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	results := make([]sqlstore.HookResult, len(claimed))
	sem := make(chan struct{}, hookParallel)
	var wg sync.WaitGroup
	for i, d := range claimed {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = r.sendHook(ctx, d)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Shutting down: what was cut short is sent again once its lease
		// runs out.
		return len(claimed), ctx.Err()
	}
	return len(claimed), r.store.CompleteHooks(ctx, r.cfg.Owner, r.now(), results)
}

// sendHook makes one attempt at d.
func (r *Runner) sendHook(ctx context.Context, d sqlstore.HookDelivery) sqlstore.HookResult {
	res := sqlstore.HookResult{Delivery: d}
	status, err := r.postHook(ctx, d)
	res.HTTPStatus = status
	switch {
	case err == nil:
		res.Delivered = true
		return res
	case d.Attempts > len(hookRetries):
		res.Failed = true
	default:
		res.RetryAt = r.now().Add(hookRetries[d.Attempts-1])
	}
	res.Error = printable(err.Error(), 500)
	r.log.Warn("webhook not delivered", "webhook_id", d.WebhookID, "event_id", d.EventID, "attempt", d.Attempts,
		"status", status, "err", err, "given_up", res.Failed)
	return res
}

// postHook sends d and returns the endpoint's HTTP status; err is nil for
// a 2xx answer.
func (r *Runner) postHook(ctx context.Context, d sqlstore.HookDelivery) (int, error) {
	body, err := json.Marshal(hookPayload{Type: d.Type, Timestamp: d.At.UTC().Format(time.RFC3339Nano), Data: hookData{
		ID: d.EventID, Organization: d.Org, InvitationID: d.InvitationID, Email: d.Email,
		From: d.From, To: d.To, Actor: d.Actor, Detail: d.Detail}})
	if err != nil {
		return 0, err
	}
	ts := r.now()
	sig, err := hookSignature(d.Secret, d.EventID, ts, body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "usher-webhooks")
	req.Header.Set("webhook-id", d.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	res, err := r.hookClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, 1024)) // 200 characters, even of 4 bytes each, and more
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))     // so the connection can be reused
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("the endpoint answered %s: %s", printable(res.Status, 100), printable(string(snippet), 200))
	}
	return res.StatusCode, nil
}

// newHookClient is the HTTP client webhooks are sent with. A redirect is
// not followed but answered as a failure (a moved endpoint is for its
// owner to update; following it would send the signed body elsewhere).
// Unless private is set, it connects only to public addresses: every
// user owns an organization of their own, and its endpoints must not
// reach this instance's own network. The address is checked as dialled,
// after name resolution, so a name cannot resolve one way when checked
// and another when used. No proxy is used.
func newHookClient(private bool) *http.Client {
	dialer := &net.Dialer{Timeout: hookTimeout}
	if !private {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook address %s: %w", address, err)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("%s is not a public address; webhooks reach only public ones (usher serve --webhook-private allows others)", ap.Addr())
			}
			return nil
		}
	}
	return &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: hookTimeout, ResponseHeaderTimeout: hookTimeout},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// nonPublic are the ranges webhooks may not reach besides those netip
// names (loopback, private, link-local, multicast, unspecified).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64, which can reach any IPv4 address
}

// publicAddr tells whether a is an address on the public internet.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// printable is what an endpoint said, fit to store and show: valid UTF-8,
// control characters as spaces, at most n runes, trimmed.
func printable(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n--
	}
	return strings.TrimSpace(b.String())
}
