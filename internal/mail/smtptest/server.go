// Package smtptest runs an in-process SMTP server for tests: it records what
// it receives, can refuse chosen recipients with any reply code, and can go
// down and come back on the same port to simulate an outage.
package smtptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	From string   // MAIL FROM
	To   []string // RCPT TO, accepted recipients only
	Data []byte   // the raw message
	TLS  bool     // the session was encrypted (STARTTLS or implicit TLS)
	User string   // the authenticated user, "" without AUTH

	// Decoded from Data with the standard library. Text and HTML have \n
	// line endings. ParseErr is set when Data could not be decoded.
	Header       mail.Header
	ContentType  string   // top-level media type, e.g. "multipart/alternative"
	Alternatives []string // media types inside multipart/alternative, in order
	Subject      string
	Text         string
	HTML         string
	ParseErr     error
}

// Option configures a Server.
type Option func(*config)

type config struct {
	startTLS    bool
	implicitTLS bool
	user, pass  string
	discard     bool
}

// WithSTARTTLS offers STARTTLS with a self-signed certificate generated in
// memory (trust it through CertPool, or skip verification).
func WithSTARTTLS() Option { return func(c *config) { c.startTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte, like a
// port-465 smtps server.
func WithImplicitTLS() Option { return func(c *config) { c.implicitTLS = true } }

// WithAuth requires AUTH PLAIN with this user and password before MAIL FROM.
func WithAuth(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// WithDiscard counts messages without keeping them, for benchmarks that send
// more than memory should hold. Messages returns nothing; Count still counts.
func WithDiscard() Option { return func(c *config) { c.discard = true } }

// Server is an SMTP server on 127.0.0.1. Its methods are safe for concurrent
// use.
type Server struct {
	t    testing.TB
	cfg  config
	addr string
	tls  *tls.Config
	pool *x509.CertPool

	life sync.Mutex // serializes Start and Stop

	mu       sync.Mutex
	srv      *smtp.Server // nil while stopped
	ln       net.Listener
	msgs     []Received
	count    int
	sessions int
	rejects  map[string]*smtp.SMTPError
	arrived  chan struct{} // closed and replaced when a message arrives
}

// NewServer starts a server on 127.0.0.1 with a free port. It is stopped by
// t.Cleanup.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, rejects: map[string]*smtp.SMTPError{}, arrived: make(chan struct{})}
	for _, opt := range opts {
		opt(&s.cfg)
	}
	if s.cfg.startTLS || s.cfg.implicitTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.pool = pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port; it stays the same across Stop and Start.
func (s *Server) Addr() string { return s.addr }

// URL is "smtp://127.0.0.1:PORT" ("smtps://..." WithImplicitTLS), without
// credentials or parameters.
func (s *Server) URL() string {
	if s.cfg.implicitTLS {
		return "smtps://" + s.addr
	}
	return "smtp://" + s.addr
}

// CertPool trusts the server's certificate; nil without TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// serve starts a go-smtp server on l. A stopped go-smtp server cannot be
// restarted, so every Start makes a new one.
func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	// Loopback only: AUTH PLAIN without TLS is fine here and lets tests
	// check authentication apart from encryption.
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if s.cfg.startTLS {
		srv.TLSConfig = s.tls
	}
	if s.cfg.implicitTLS {
		l = tls.NewListener(l, s.tls)
	}
	s.mu.Lock()
	s.srv, s.ln = srv, l
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Stop closes the listener and every open connection: clients get connection
// refused until Start. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// go-smtp only learns of the listener once Serve runs in its
		// goroutine; closing it here as well makes Stop right after Start
		// refuse connections too.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Start listens again on the same port after Stop. Starting a running server
// does nothing. It may be called from any goroutine; a failure to listen is
// reported with t.Errorf.
func (s *Server) Start() {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return
	}
	var l net.Listener
	var err error
	// The port was ours a moment ago; a short retry covers a listener that
	// the kernel has not finished releasing.
	for range 50 {
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Errorf("smtptest: listen again on %s: %v", s.addr, err)
		return
	}
	s.serve(l)
}

// RejectRecipient makes RCPT TO addr fail with code and msg, e.g. 451 for a
// temporary or 550 for a permanent failure. The address is compared without
// regard to case.
func (s *Server) RejectRecipient(addr string, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejects[strings.ToLower(addr)] = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

// AcceptRecipient undoes RejectRecipient.
func (s *Server) AcceptRecipient(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rejects, strings.ToLower(addr))
}

// Messages returns a copy of the messages received so far, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Count is the number of messages accepted, kept or not (WithDiscard).
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Connections is the number of SMTP sessions opened so far: one per
// connection, however many messages it carried.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// WaitFor waits until at least n messages have arrived and returns them all.
// When ctx ends first it returns those that did arrive and an error.
func (s *Server) WaitFor(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		count, arrived := s.count, s.arrived
		msgs := append([]Received(nil), s.msgs...)
		s.mu.Unlock()
		if count >= n {
			return msgs, nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return msgs, fmt.Errorf("smtptest: %d of %d messages arrived: %w", count, n, ctx.Err())
		}
	}
}

func (s *Server) deliver(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if !s.cfg.discard {
		s.msgs = append(s.msgs, r)
	}
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *Server) rejection(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.rejects[strings.ToLower(addr)]; ok {
		return e
	}
	return nil
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.sessions++
	b.s.mu.Unlock()
	return &session{s: b.s, conn: c}, nil
}

// session is one SMTP connection's state.
type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

// AuthMechanisms offers PLAIN only when WithAuth was given; go-smtp then
// advertises no AUTH at all.
func (ss *session) AuthMechanisms() []string {
	if ss.s.cfg.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.cfg.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.cfg.user || pass != ss.s.cfg.pass {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) authRequired() error {
	if ss.s.cfg.user != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := ss.authRequired(); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.authRequired(); err != nil {
		return err
	}
	if err := ss.s.rejection(to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	rec := Received{From: ss.from, To: append([]string(nil), ss.to...), TLS: isTLS, User: ss.user}
	if !ss.s.cfg.discard {
		rec.Data = data
		p, err := parseMessage(data)
		rec.Header, rec.ContentType, rec.Alternatives = p.header, p.contentType, p.alternatives
		rec.Subject, rec.Text, rec.HTML, rec.ParseErr = p.subject, p.text, p.html, err
	}
	ss.s.deliver(rec)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }
