package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender delivers messages. Send returns one error per message (nil =
// accepted by the server), in the same order; IsTemporary tells a retry from
// a give-up.
type Sender interface {
	Send(ctx context.Context, msgs []Message) []error
}

var _ Sender = (*SMTPSender)(nil)

// SMTPSender delivers through one SMTP server, over one connection per
// batch: a bulk import costs one handshake, not one per invitation. It is
// safe for concurrent use; concurrent batches use separate connections.
type SMTPSender struct {
	cfg        SMTPConfig
	from       *mail.Address
	fromDomain string
	helo       string
	tlsConfig  *tls.Config
}

// SenderOption changes how an SMTPSender connects.
type SenderOption func(*SMTPSender)

// WithTimeout bounds each step of the conversation (connect, each command),
// overriding the URL's timeout and DefaultTimeout.
func WithTimeout(d time.Duration) SenderOption {
	return func(s *SMTPSender) {
		if d > 0 {
			s.cfg.Timeout = d
		}
	}
}

// WithHELO sets the name sent with EHLO (the machine's host name by default).
func WithHELO(name string) SenderOption { return func(s *SMTPSender) { s.helo = name } }

// WithTLSConfig sets the TLS configuration, e.g. RootCAs that trust a private
// CA. ServerName defaults to the configured host.
func WithTLSConfig(c *tls.Config) SenderOption {
	return func(s *SMTPSender) { s.tlsConfig = c.Clone() }
}

// NewSMTPSender checks cfg and the sender address ("usher
// <no-reply@example.com>") and returns a sender. It does not connect.
func NewSMTPSender(cfg SMTPConfig, from string, opts ...SenderOption) (*SMTPSender, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: smtp sender: no host")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: smtp sender: port %d out of range", cfg.Port)
	}
	addr, err := parseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp sender: from %q: %w", from, err)
	}
	s := &SMTPSender{cfg: cfg, from: addr, fromDomain: addr.Address[strings.LastIndexByte(addr.Address, '@')+1:]}
	for _, opt := range opts {
		opt(s)
	}
	if s.cfg.Timeout <= 0 {
		s.cfg.Timeout = DefaultTimeout
	}
	if s.tlsConfig == nil {
		s.tlsConfig = &tls.Config{}
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = cfg.Host
	}
	s.tlsConfig.MinVersion = max(s.tlsConfig.MinVersion, tls.VersionTLS12)
	if cfg.InsecureSkipVerify {
		s.tlsConfig.InsecureSkipVerify = true
	}
	return s, nil
}

// parseAddress accepts one address, with or without a display name.
func parseAddress(s string) (*mail.Address, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains a line break")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, err
	}
	if i := strings.LastIndexByte(a.Address, '@'); i < 1 || i == len(a.Address)-1 {
		return nil, errors.New("not an email address")
	}
	return a, nil
}

// Send delivers msgs over one connection. A message that cannot be built
// (bad To) fails alone and permanently; a session that cannot be opened
// fails every message, temporarily. Cancelling ctx interrupts the
// conversation; messages not yet sent fail temporarily.
func (s *SMTPSender) Send(ctx context.Context, msgs []Message) []error {
	errs := make([]error, len(msgs))
	built := make([]*gomail.Msg, len(msgs))
	var todo []int
	for i, m := range msgs {
		gm, err := s.build(m)
		if err != nil {
			errs[i] = &DeliveryError{To: m.To, Err: err}
			continue
		}
		built[i] = gm
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return errs
	}
	failAll := func(err error) {
		code, _ := classify(err)
		for _, i := range todo {
			errs[i] = &DeliveryError{To: msgs[i].To, Code: code, Temporary: true, Err: err}
		}
	}
	if err := ctx.Err(); err != nil {
		failAll(err)
		return errs
	}

	var conn connRef
	// go-mail's client holds a lock while it waits for a reply and resets
	// the socket deadline at each step, so the sure way to interrupt it is
	// to close the socket. Registered before dialing so that a cancel while
	// waiting for the greeting counts too.
	stop := context.AfterFunc(ctx, conn.interrupt)
	defer stop()
	interrupted := func(err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%w: %w", ctxErr, err)
		}
		return err
	}

	client, err := s.client(&conn)
	if err != nil {
		failAll(err)
		return errs
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// go-mail leaves the socket open when a step after connecting
		// fails (STARTTLS, AUTH).
		conn.interrupt()
		failAll(interrupted(fmt.Errorf("connect to %s: %w", s.cfg.Addr(), err)))
		return errs
	}
	// QUIT politely; the messages were accepted or not already, so its
	// outcome changes nothing.
	defer func() { _ = client.CloseWithSMTPClient(sc) }()

	for _, i := range todo {
		if err := ctx.Err(); err != nil {
			errs[i] = &DeliveryError{To: msgs[i].To, Temporary: true, Err: err}
			continue
		}
		err := client.SendWithSMTPClient(sc, built[i])
		// A failed RSET after the server accepted the data does not undo
		// the delivery; reporting it would only send a duplicate later.
		if err == nil || built[i].IsDelivered() {
			continue
		}
		var se *gomail.SendError
		if errors.As(err, &se) {
			err = se
		}
		code, temp := classify(err)
		if code == 0 {
			err = interrupted(err)
		}
		errs[i] = &DeliveryError{To: msgs[i].To, Code: code, Temporary: temp, Err: err}
	}
	return errs
}

// client makes a go-mail client for one batch. go-mail's Client keeps state
// per connection (and changes it during AUTH), so each batch gets its own.
func (s *SMTPSender) client(conn *connRef) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithDialContextFunc(s.dialer(conn)),
		// A NOOP before each message would cost a round trip per message;
		// a dead connection shows up on MAIL FROM just as well.
		gomail.WithoutNoop(),
	}
	switch {
	case s.cfg.ImplicitTLS, s.cfg.StartTLS == StartTLSOff:
		// With implicit TLS the dialer has already wrapped the connection.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case s.cfg.StartTLS == StartTLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		// go-mail's default is mandatory; a plain relay on loopback must
		// work with a bare smtp://host:port.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.cfg.Username != "" {
		// Strongest first. go-mail's PLAIN and LOGIN refuse to send a
		// password in the clear except to localhost.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin, gomail.SMTPAuthCramMD5),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password),
		)
	}
	if s.helo != "" {
		opts = append(opts, gomail.WithHELO(s.helo))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp client: %w", err)
	}
	return c, nil
}

// dialer connects, does the TLS handshake for smtps://, and remembers the
// TCP connection so that a cancelled context can interrupt it.
func (s *SMTPSender) dialer(ref *connRef) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		ref.set(conn)
		if !s.cfg.ImplicitTLS {
			return conn, nil
		}
		// go-mail recognizes an encrypted connection by its *tls.Conn type,
		// so the TLS layer is returned as is, not wrapped.
		tc := tls.Client(conn, s.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

// connRef is the batch's TCP connection, for interrupting it from another
// goroutine.
type connRef struct {
	mu      sync.Mutex
	conn    net.Conn
	stopped bool
}

func (r *connRef) set(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conn = c
	if r.stopped {
		_ = c.Close()
	}
}

func (r *connRef) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.conn != nil {
		_ = r.conn.Close()
	}
}

// build turns a rendered Message into a go-mail message:
// multipart/alternative with the text part first (clients show the last
// part they can display, so HTML wins where it can).
func (s *SMTPSender) build(m Message) (*gomail.Msg, error) {
	to, err := parseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("invalid recipient %q: %w", m.To, err)
	}
	gm := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	gm.FromMailAddress(s.from)
	gm.ToMailAddress(to)
	gm.Subject(oneLine(m.Subject))
	gm.SetDate()
	gm.SetMessageIDWithValue(messageID() + "@" + s.fromDomain)
	// RFC 3834: automatic mail; well-behaved auto-responders stay quiet.
	gm.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	if m.Language != "" {
		gm.SetGenHeader(gomail.HeaderContentLang, m.Language)
	}
	switch {
	case m.Text != "" && m.HTML != "":
		gm.SetBodyString(gomail.TypeTextPlain, m.Text)
		gm.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		gm.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		gm.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	return gm, nil
}

// messageID is 128 random bits (crypto/rand.Text): unique without
// coordination between instances.
func messageID() string { return rand.Text() }
