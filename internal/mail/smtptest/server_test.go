package smtptest

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// raw is a message as a typical mailer writes it: multipart/mixed around
// multipart/alternative, text in quoted-printable, HTML in base64, an
// RFC 2047 subject.
const raw = "From: usher <no-reply@usher.example>\r\n" +
	"To: ana@example.com\r\n" +
	"Subject: =?UTF-8?q?Bienvenue_=C3=A0_Acme?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Bonjour =C3=A0 vous,\r\n" +
	"une tr=C3=A8s longue ligne qui continue =\r\n" +
	"ici.\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+Qm9uam91ciAmYW1wOyDDoDwv\r\n" +
	"cD4=\r\n" +
	"--inner--\r\n" +
	"--outer--\r\n"

func TestParseMessage(t *testing.T) {
	t.Parallel()
	p, err := parseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parseMessage() error = %v", err)
	}
	got := []string{p.subject, p.text, p.html, p.contentType, strings.Join(p.alternatives, ",")}
	want := []string{
		"Bienvenue à Acme",
		"Bonjour à vous,\nune très longue ligne qui continue ici.",
		"<p>Bonjour &amp; à</p>",
		"multipart/mixed",
		"text/plain,text/html",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseMessage() mismatch (-want +got):\n%s", diff)
	}
}

// send delivers raw to the server with go-smtp's own client, so these tests
// do not depend on the sender under test elsewhere.
func send(s *Server, to string) error {
	return sendWith(s, to, nil, nil)
}

// sendWith upgrades with STARTTLS when tlsConfig is set and authenticates
// when auth is.
func sendWith(s *Server, to string, tlsConfig *tls.Config, auth sasl.Client) error {
	dial := func() (*smtp.Client, error) { return smtp.Dial(s.Addr()) }
	if tlsConfig != nil {
		dial = func() (*smtp.Client, error) { return smtp.DialStartTLS(s.Addr(), tlsConfig) }
	}
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	return c.SendMail("no-reply@usher.example", []string{to}, strings.NewReader(raw))
}

func TestServerReceives(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	if err := send(s, "ana@example.com"); err != nil {
		t.Fatalf("send() error = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, err := s.WaitFor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.From != "no-reply@usher.example" || !cmp.Equal(m.To, []string{"ana@example.com"}) || m.Subject != "Bienvenue à Acme" || m.TLS || m.ParseErr != nil {
		t.Errorf("received From=%q To=%q Subject=%q TLS=%v ParseErr=%v", m.From, m.To, m.Subject, m.TLS, m.ParseErr)
	}
	if got, want := s.URL(), "smtp://"+s.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

func TestServerRejectRecipient(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	s.RejectRecipient("Busy@Example.com", 451, "try later")
	err := send(s, "busy@example.com")
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("send(busy) error = %v, want a 451 reply", err)
	}
	s.AcceptRecipient("busy@example.com")
	if err := send(s, "busy@example.com"); err != nil {
		t.Fatalf("send(busy) after AcceptRecipient error = %v", err)
	}
	if got := s.Count(); got != 1 {
		t.Errorf("Count() = %d, want 1", got)
	}
}

func TestServerStopStart(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	addr := s.Addr()
	s.Stop()
	s.Stop() // twice is harmless
	if err := send(s, "ana@example.com"); err == nil {
		t.Fatal("send() to a stopped server succeeded")
	}
	s.Start()
	if s.Addr() != addr {
		t.Errorf("Addr() after Start = %q, want %q", s.Addr(), addr)
	}
	if err := send(s, "ana@example.com"); err != nil {
		t.Fatalf("send() after Start error = %v", err)
	}
}

func TestServerWaitForTimesOut(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitFor(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor() error = %v, want deadline exceeded", err)
	}
}

func TestServerSTARTTLSAndAuth(t *testing.T) {
	t.Parallel()
	s := NewServer(t, WithSTARTTLS(), WithAuth("usher", "s3cret"))
	if err := send(s, "ana@example.com"); err == nil {
		t.Fatal("send() without AUTH succeeded")
	}
	tlsConfig := &tls.Config{RootCAs: s.CertPool(), ServerName: "127.0.0.1"}
	if err := sendWith(s, "ana@example.com", tlsConfig, sasl.NewPlainClient("", "usher", "wrong")); err == nil {
		t.Fatal("send() with a wrong password succeeded")
	}
	if err := sendWith(s, "ana@example.com", tlsConfig, sasl.NewPlainClient("", "usher", "s3cret")); err != nil {
		t.Fatalf("send() with STARTTLS and AUTH error = %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "usher" {
		t.Fatalf("Messages() = %+v, want one message over TLS from user usher", msgs)
	}
}
