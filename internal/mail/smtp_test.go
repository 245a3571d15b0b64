package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"usher/internal/mail/smtptest"
)

const testFrom = "usher <no-reply@usher.example>"

// newSender returns a sender for rawURL, failing the test on a bad URL.
func newSender(t testing.TB, rawURL string, opts ...SenderOption) *SMTPSender {
	t.Helper()
	cfg, err := ParseSMTPURL(rawURL)
	if err != nil {
		t.Fatalf("ParseSMTPURL(%q) error = %v", rawURL, err)
	}
	s, err := NewSMTPSender(cfg, testFrom, opts...)
	if err != nil {
		t.Fatalf("NewSMTPSender(%q) error = %v", rawURL, err)
	}
	return s
}

// messages renders n invitations to user000@example.com, user001@..., in
// rotating languages so that non-ASCII subjects travel too.
func messages(t testing.TB, n int) []Message {
	t.Helper()
	r := setup(t)
	langs := r.Languages()
	msgs := make([]Message, n)
	for i := range msgs {
		d := sample(KindInvitation, langs[i%len(langs)])
		d.To = fmt.Sprintf("user%03d@example.com", i)
		m, err := r.Render(d)
		if err != nil {
			t.Fatalf("Render() error = %v", err)
		}
		msgs[i] = m
	}
	return msgs
}

func send(t testing.TB, s Sender, msgs []Message) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := s.Send(ctx, msgs)
	if len(errs) != len(msgs) {
		t.Fatalf("Send(%d messages) returned %d errors, want one per message", len(msgs), len(errs))
	}
	return errs
}

func wantDelivered(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Send() error[%d] = %v, want nil", i, err)
		}
	}
}

func TestSendBatchOverOneConnection(t *testing.T) {
	t.Parallel()
	srv := smtptest.NewServer(t)
	msgs := messages(t, 100)
	wantDelivered(t, send(t, newSender(t, srv.URL()), msgs))

	got := srv.Messages()
	if len(got) != len(msgs) {
		t.Fatalf("server received %d messages, want %d", len(got), len(msgs))
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("server saw %d connections, want 1 for the whole batch", n)
	}
	ids := map[string]bool{}
	for i, r := range got {
		m := msgs[i]
		if r.ParseErr != nil {
			t.Fatalf("message %d: parse error %v", i, r.ParseErr)
		}
		if r.From != "no-reply@usher.example" || len(r.To) != 1 || r.To[0] != m.To {
			t.Errorf("message %d: envelope from %q to %q, want no-reply@usher.example to %q", i, r.From, r.To, m.To)
		}
		if r.ContentType != "multipart/alternative" || strings.Join(r.Alternatives, ",") != "text/plain,text/html" {
			t.Errorf("message %d: %s with parts %v, want multipart/alternative with text/plain,text/html", i, r.ContentType, r.Alternatives)
		}
		if r.Subject != m.Subject {
			t.Errorf("message %d: subject = %q, want %q", i, r.Subject, m.Subject)
		}
		if r.Text != m.Text || r.HTML != m.HTML {
			t.Errorf("message %d: text or html part differs from the rendered message", i)
		}
		h := r.Header
		for _, name := range []string{"From", "To", "Date", "Message-Id", "Mime-Version"} {
			if h.Get(name) == "" {
				t.Errorf("message %d: no %s header", i, name)
			}
		}
		if got := h.Get("Content-Language"); got != m.Language {
			t.Errorf("message %d: Content-Language = %q, want %q", i, got, m.Language)
		}
		if got := h.Get("Auto-Submitted"); got != "auto-generated" {
			t.Errorf("message %d: Auto-Submitted = %q, want auto-generated", i, got)
		}
		id := h.Get("Message-Id")
		if ids[id] || !strings.HasSuffix(id, "@usher.example>") {
			t.Errorf("message %d: Message-Id %q is repeated or not @usher.example", i, id)
		}
		ids[id] = true
	}
}

func TestSendRecipientRejected(t *testing.T) {
	t.Parallel()
	srv := smtptest.NewServer(t)
	msgs := messages(t, 5)
	srv.RejectRecipient(msgs[1].To, 451, "mailbox busy, try later")
	srv.RejectRecipient(msgs[3].To, 550, "no such user")
	errs := send(t, newSender(t, srv.URL()), msgs)

	tests := []struct {
		code int
		temp bool
	}{{0, false}, {451, true}, {0, false}, {550, false}, {0, false}}
	for i, tt := range tests {
		err := errs[i]
		if tt.code == 0 {
			if err != nil {
				t.Errorf("Send() error[%d] = %v, want nil", i, err)
			}
			continue
		}
		var de *DeliveryError
		if !errors.As(err, &de) || de.Code != tt.code || de.To != msgs[i].To {
			t.Errorf("Send() error[%d] = %v, want a DeliveryError to %s with code %d", i, err, msgs[i].To, tt.code)
		}
		if got := IsTemporary(err); got != tt.temp {
			t.Errorf("IsTemporary(%v) = %v, want %v", err, got, tt.temp)
		}
		if !strings.HasPrefix(err.Error(), "mail: send to "+msgs[i].To+": ") {
			t.Errorf("Send() error[%d] = %q, want it to start with \"mail: send to %s: \"", i, err, msgs[i].To)
		}
	}
	if got := srv.Count(); got != 3 {
		t.Errorf("server received %d messages, want the 3 accepted ones", got)
	}
}

func TestSendServerDownThenUp(t *testing.T) {
	t.Parallel()
	srv := smtptest.NewServer(t)
	sender := newSender(t, srv.URL(), WithTimeout(5*time.Second))
	msgs := messages(t, 10)

	srv.Stop()
	for i, err := range send(t, sender, msgs) {
		if err == nil || !IsTemporary(err) {
			t.Errorf("Send() to a stopped server: error[%d] = %v, want a temporary error", i, err)
		}
	}
	srv.Start()
	wantDelivered(t, send(t, sender, msgs))
	if got := srv.Count(); got != len(msgs) {
		t.Errorf("server received %d messages after Start, want %d", got, len(msgs))
	}
}

func TestSendBadRecipientFailsAlone(t *testing.T) {
	t.Parallel()
	srv := smtptest.NewServer(t)
	msgs := messages(t, 5)
	bad := map[int]string{
		0: "not-an-address",
		2: "ana@example.com, bob@example.com",
		4: "ana@example.com\r\nBcc: victim@example.com",
	}
	for i, to := range bad {
		msgs[i].To = to
	}
	errs := send(t, newSender(t, srv.URL()), msgs)
	for i, err := range errs {
		if _, isBad := bad[i]; !isBad {
			if err != nil {
				t.Errorf("Send() error[%d] = %v, want nil", i, err)
			}
			continue
		}
		if err == nil || IsTemporary(err) || !strings.Contains(err.Error(), "invalid recipient") {
			t.Errorf("Send() to %q: error = %v, want a permanent invalid recipient error", msgs[i].To, err)
		}
	}
	if got := srv.Count(); got != 2 {
		t.Errorf("server received %d messages, want 2", got)
	}
}

func TestSendTLS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		server  []smtptest.Option
		query   string
		trusted bool // trust the server's certificate through WithTLSConfig
		wantTLS bool
	}{
		{"STARTTLS required, verified", []smtptest.Option{smtptest.WithSTARTTLS()}, "?starttls=required", true, true},
		{"STARTTLS required, verification skipped", []smtptest.Option{smtptest.WithSTARTTLS()}, "?starttls=required&insecure_skip_verify=true", false, true},
		{"STARTTLS used when offered", []smtptest.Option{smtptest.WithSTARTTLS()}, "", true, true},
		{"STARTTLS off", []smtptest.Option{smtptest.WithSTARTTLS()}, "?starttls=off", false, false},
		{"plain server, opportunistic", nil, "", false, false},
		{"implicit TLS", []smtptest.Option{smtptest.WithImplicitTLS()}, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.NewServer(t, tt.server...)
			var opts []SenderOption
			if tt.trusted {
				opts = append(opts, WithTLSConfig(&tls.Config{RootCAs: srv.CertPool()}))
			}
			wantDelivered(t, send(t, newSender(t, srv.URL()+tt.query, opts...), messages(t, 3)))
			for i, r := range srv.Messages() {
				if r.TLS != tt.wantTLS {
					t.Errorf("message %d arrived with TLS = %v, want %v", i, r.TLS, tt.wantTLS)
				}
			}
		})
	}
}

func TestSendTLSFailuresNeverFallBackToPlaintext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server []smtptest.Option
		query  string
		want   string
	}{
		{"required but not offered", nil, "?starttls=required", "STARTTLS"},
		{"offered with an untrusted certificate", []smtptest.Option{smtptest.WithSTARTTLS()}, "", "certificate"},
		{"implicit TLS with an untrusted certificate", []smtptest.Option{smtptest.WithImplicitTLS()}, "", "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.NewServer(t, tt.server...)
			for i, err := range send(t, newSender(t, srv.URL()+tt.query), messages(t, 2)) {
				if err == nil || !IsTemporary(err) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Send() error[%d] = %v, want a temporary error mentioning %q", i, err, tt.want)
				}
			}
			if got := srv.Count(); got != 0 {
				t.Errorf("server received %d messages, want none", got)
			}
		})
	}
}

func TestSendAuth(t *testing.T) {
	t.Parallel()
	srv := smtptest.NewServer(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("usher", "s3cr:t"))
	trust := WithTLSConfig(&tls.Config{RootCAs: srv.CertPool()})
	base := strings.TrimPrefix(srv.URL(), "smtp://")

	wantDelivered(t, send(t, newSender(t, "smtp://usher:s3cr%3At@"+base+"?starttls=required", trust), messages(t, 2)))
	for i, r := range srv.Messages() {
		if r.User != "usher" || !r.TLS {
			t.Errorf("message %d arrived from user %q, TLS %v; want user usher over TLS", i, r.User, r.TLS)
		}
	}

	for i, err := range send(t, newSender(t, "smtp://usher:wrong@"+base, trust), messages(t, 2)) {
		var de *DeliveryError
		if !errors.As(err, &de) || de.Code != 535 || !de.Temporary {
			t.Errorf("Send() with a wrong password: error[%d] = %v, want a temporary DeliveryError with code 535", i, err)
		}
	}
	// Without a user there is no AUTH; the server refuses the messages.
	for i, err := range send(t, newSender(t, srv.URL(), trust), messages(t, 2)) {
		if err == nil || IsTemporary(err) {
			t.Errorf("Send() without credentials: error[%d] = %v, want a permanent error", i, err)
		}
	}
	if got := srv.Count(); got != 2 {
		t.Errorf("server received %d messages, want 2", got)
	}
}

func TestSendCancelledContext(t *testing.T) {
	t.Parallel()
	srv := smtptest.NewServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msgs := messages(t, 3)
	for i, err := range newSender(t, srv.URL()).Send(ctx, msgs) {
		if !errors.Is(err, context.Canceled) || !IsTemporary(err) {
			t.Errorf("Send(cancelled) error[%d] = %v, want a temporary context.Canceled", i, err)
		}
	}
	if got := srv.Count(); got != 0 {
		t.Errorf("server received %d messages, want none", got)
	}
}

// silentServer accepts connections and never says a word.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return "smtp://" + l.Addr().String()
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	sender := newSender(t, silentServer(t), WithTimeout(200*time.Millisecond))
	start := time.Now()
	errs := send(t, sender, messages(t, 2))
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Send() to a silent server took %v, want about the 200ms timeout", elapsed)
	}
	for i, err := range errs {
		if err == nil || !IsTemporary(err) {
			t.Errorf("Send() to a silent server: error[%d] = %v, want a temporary error", i, err)
		}
	}
}

func TestSendCancelInterruptsWaiting(t *testing.T) {
	t.Parallel()
	// The timeout is long; only the context can end this conversation soon.
	sender := newSender(t, silentServer(t), WithTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	errs := sender.Send(ctx, messages(t, 2))
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Send() with a 200ms context took %v", elapsed)
	}
	for i, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) || !IsTemporary(err) {
			t.Errorf("Send() error[%d] = %v, want a temporary error wrapping context.DeadlineExceeded", i, err)
		}
	}
}

func TestSendServerGoesDownMidBatch(t *testing.T) {
	t.Parallel()
	srv := smtptest.NewServer(t)
	few := messages(t, 5)
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = few[i%len(few)]
		msgs[i].To = fmt.Sprintf("user%04d@example.com", i)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = srv.WaitFor(ctx, 30)
		srv.Stop()
	}()
	errs := send(t, newSender(t, srv.URL()), msgs)

	accepted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			accepted++
		case !IsTemporary(err):
			t.Errorf("Send() error[%d] = %v, want a temporary error", i, err)
		}
	}
	// Every message reported sent arrived. At most one more arrived than was
	// reported: the server may take the data and die before it answers,
	// which SMTP cannot tell from a loss (delivery is at least once).
	if got := srv.Count(); got < accepted || got > accepted+1 || accepted == len(msgs) {
		t.Errorf("server received %d messages, Send() reported %d of %d accepted", got, accepted, len(msgs))
	}
}

func TestNewSMTPSenderChecksFrom(t *testing.T) {
	t.Parallel()
	cfg := SMTPConfig{Host: "127.0.0.1", Port: 25}
	for _, from := range []string{"", "usher", "usher <no-reply>", "a@x.example, b@x.example", "usher <no-reply@x.example>\r\nBcc: v@x.example"} {
		if _, err := NewSMTPSender(cfg, from); err == nil || !strings.HasPrefix(err.Error(), "mail: smtp sender: ") {
			t.Errorf("NewSMTPSender(from %q) error = %v, want a mail: smtp sender error", from, err)
		}
	}
	for _, from := range []string{"no-reply@x.example", "usher <no-reply@x.example>", `"Acme, Inc." <hello@acme.example>`} {
		if _, err := NewSMTPSender(cfg, from); err != nil {
			t.Errorf("NewSMTPSender(from %q) error = %v", from, err)
		}
	}
	if _, err := NewSMTPSender(SMTPConfig{Port: 25}, "a@x.example"); err == nil {
		t.Errorf("NewSMTPSender(no host) error = nil")
	}
}
