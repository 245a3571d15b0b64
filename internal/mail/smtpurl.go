package mail

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StartTLS says whether an smtp:// connection upgrades to TLS.
type StartTLS string

// The STARTTLS policies of an smtp:// URL (?starttls=...).
const (
	StartTLSOpportunistic StartTLS = "opportunistic" // upgrade when the server offers it (the default)
	StartTLSRequired      StartTLS = "required"      // refuse to send unless the upgrade succeeds
	StartTLSOff           StartTLS = "off"           // never try, for servers that offer it but fail at it
)

// DefaultTimeout bounds each step of an SMTP conversation (connect, each
// command) unless the URL or an option says otherwise.
const DefaultTimeout = 30 * time.Second

// SMTPConfig says how to reach an SMTP server. ParseSMTPURL builds one from
// the operator's --smtp-url.
type SMTPConfig struct {
	Host               string
	Port               int
	Username           string // empty: no authentication
	Password           string
	ImplicitTLS        bool          // smtps://: TLS from the first byte
	StartTLS           StartTLS      // smtp:// only
	InsecureSkipVerify bool          // accept any certificate: for tests and self-signed servers
	Timeout            time.Duration // per step; zero means DefaultTimeout
}

// Addr is host:port.
func (c SMTPConfig) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// String gives the configuration as a URL with the password hidden, for logs.
func (c SMTPConfig) String() string {
	u := url.URL{Scheme: "smtp", Host: c.Addr()}
	q := url.Values{}
	if c.ImplicitTLS {
		u.Scheme = "smtps"
	} else if c.StartTLS != "" && c.StartTLS != StartTLSOpportunistic {
		q.Set("starttls", string(c.StartTLS))
	}
	if c.Username != "" {
		u.User = url.User(c.Username)
		if c.Password != "" {
			u.User = url.UserPassword(c.Username, "xxxxx")
		}
	}
	if c.InsecureSkipVerify {
		q.Set("insecure_skip_verify", "true")
	}
	if c.Timeout != 0 {
		q.Set("timeout", c.Timeout.String())
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ParseSMTPURL reads an SMTP server URL:
//
//	smtp://user:pass@host:port   STARTTLS when the server offers it (port 587 by default)
//	smtps://user:pass@host:port  TLS from the start (port 465 by default)
//
// with optional parameters starttls=opportunistic|required|off (smtp://
// only), insecure_skip_verify=true and timeout=10s. User and password are
// optional; without a user there is no authentication. Unknown parameters
// are errors, so a typo cannot silently weaken TLS. Errors never repeat the
// password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	fail := func(format string, args ...any) (SMTPConfig, error) {
		return SMTPConfig{}, fmt.Errorf("mail: smtp url: "+format, args...)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return fail("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included; its inner
		// error says what is wrong without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fail("%v", ue.Err)
		}
		return fail("cannot parse")
	}
	cfg := SMTPConfig{StartTLS: StartTLSOpportunistic}
	switch u.Scheme {
	case "smtp":
		cfg.Port = 587
	case "smtps":
		cfg.Port, cfg.ImplicitTLS = 465, true
	default:
		return fail("scheme %q not supported, want smtp:// or smtps://", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return fail("missing host (want %s://host:port)", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return fail("unexpected path %q", u.Path)
	}
	cfg.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fail("port %q out of range 1-65535", p)
		}
		cfg.Port = n
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		if cfg.Username == "" && cfg.Password != "" {
			return fail("password given without a user")
		}
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("bad query: %v", err)
	}
	for key, values := range q {
		if len(values) != 1 {
			return fail("parameter %q given %d times", key, len(values))
		}
		v := values[0]
		switch key {
		case "starttls":
			if cfg.ImplicitTLS {
				return fail("starttls applies to smtp:// only; smtps:// is TLS from the start")
			}
			policy := StartTLS(strings.ToLower(v))
			if !slices.Contains([]StartTLS{StartTLSOpportunistic, StartTLSRequired, StartTLSOff}, policy) {
				return fail("starttls=%q, want opportunistic, required or off", v)
			}
			cfg.StartTLS = policy
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fail("insecure_skip_verify=%q, want true or false", v)
			}
			cfg.InsecureSkipVerify = b
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fail("timeout=%q, want a positive duration such as 10s", v)
			}
			cfg.Timeout = d
		default:
			return fail("unknown parameter %q (known: starttls, insecure_skip_verify, timeout)", key)
		}
	}
	return cfg, nil
}
