package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want SMTPConfig
	}{
		{"smtp://127.0.0.1:2525", SMTPConfig{Host: "127.0.0.1", Port: 2525, StartTLS: StartTLSOpportunistic}},
		{"smtp://mail.example.com", SMTPConfig{Host: "mail.example.com", Port: 587, StartTLS: StartTLSOpportunistic}},
		{"SMTP://Mail.Example.com/", SMTPConfig{Host: "Mail.Example.com", Port: 587, StartTLS: StartTLSOpportunistic}},
		{"smtps://mail.example.com", SMTPConfig{Host: "mail.example.com", Port: 465, ImplicitTLS: true, StartTLS: StartTLSOpportunistic}},
		{
			"smtp://apikey:s%3Acr%40t@smtp.example.com:587?starttls=required",
			SMTPConfig{Host: "smtp.example.com", Port: 587, Username: "apikey", Password: "s:cr@t", StartTLS: StartTLSRequired},
		},
		{"smtp://user@[::1]:25?starttls=OFF", SMTPConfig{Host: "::1", Port: 25, Username: "user", StartTLS: StartTLSOff}},
		{
			"smtps://u:p@h:1465?insecure_skip_verify=true&timeout=5s",
			SMTPConfig{Host: "h", Port: 1465, Username: "u", Password: "p", ImplicitTLS: true, StartTLS: StartTLSOpportunistic, InsecureSkipVerify: true, Timeout: 5 * time.Second},
		},
		{"smtp://h?starttls=opportunistic", SMTPConfig{Host: "h", Port: 587, StartTLS: StartTLSOpportunistic}},
	}
	for _, tt := range tests {
		got, err := ParseSMTPURL(tt.raw)
		if err != nil {
			t.Errorf("ParseSMTPURL(%q) error = %v", tt.raw, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseSMTPURL(%q) mismatch (-want +got):\n%s", tt.raw, diff)
		}
	}
}

func TestParseSMTPURLErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"", "empty"},
		{"http://mail.example.com", `scheme "http" not supported`},
		{"mail.example.com:25", "not supported"},
		{"smtp://", "missing host"},
		{"smtp:mail.example.com", "missing host"},
		{"smtp://u:secret@mail.example.com:abc", `invalid port ":abc"`},
		{"smtp://mail.example.com:0", `port "0" out of range`},
		{"smtp://mail.example.com:70000", `port "70000" out of range`},
		{"smtp://mail.example.com?starttls=maybe", `starttls="maybe", want opportunistic, required or off`},
		{"smtps://mail.example.com?starttls=required", "starttls applies to smtp:// only"},
		{"smtp://mail.example.com?insecure_skip_verify=yes", `insecure_skip_verify="yes"`},
		{"smtp://mail.example.com?timeout=-1s", `timeout="-1s"`},
		{"smtp://mail.example.com?startls=required", `unknown parameter "startls"`},
		{"smtp://mail.example.com?starttls=off&starttls=required", `"starttls" given 2 times`},
		{"smtp://:secret@mail.example.com", "password given without a user"},
		{"smtp://mail.example.com/relay", `unexpected path "/relay"`},
	}
	for _, tt := range tests {
		_, err := ParseSMTPURL(tt.raw)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) error = nil, want %q", tt.raw, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "mail: smtp url: ") {
			t.Errorf("ParseSMTPURL(%q) error = %q, want it to start with \"mail: smtp url: \" and mention %q", tt.raw, err, tt.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseSMTPURL(%q) error = %q, repeats the password", tt.raw, err)
		}
	}
}

func TestSMTPConfigStringHidesPassword(t *testing.T) {
	t.Parallel()
	cfg, err := ParseSMTPURL("smtp://user:secret@mail.example.com:2525?starttls=required&timeout=10s")
	if err != nil {
		t.Fatal(err)
	}
	const want = "smtp://user:xxxxx@mail.example.com:2525?starttls=required&timeout=10s"
	if got := cfg.String(); got != want {
		t.Errorf("SMTPConfig.String() = %q, want %q", got, want)
	}
}
