package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// usher runs the program in-process with args and an environment.
func usher(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String() + errOut.String(), err
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is an io.Writer safe to read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	// Configuration through USHER_* variables, as an operator would.
	env := map[string]string{"USHER_DATA": data}

	if out, err := usher(t, env, "version"); err != nil || !strings.HasPrefix(out, "usher ") {
		t.Fatalf("version = %q, %v", out, err)
	}
	if out, err := usher(t, env, "migrate"); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate = %q, %v", out, err)
	}
	if _, err := usher(t, env, "admin", "create", "--email", "boss@acme.test", "--password", "password"); err == nil ||
		!strings.Contains(err.Error(), "weak_password") {
		t.Errorf("admin create with a common password: err = %v, want weak_password", err)
	}
	out, err := usher(t, env, "admin", "create", "--email", "boss@acme.test", "--password", "correct horse battery", "--org", "Acme Corp")
	if err != nil || !strings.Contains(out, "slug acme-corp") {
		t.Fatalf("admin create = %q, %v", out, err)
	}
	if out, err := usher(t, env, "org", "create", "--name", "Acme Corp", "--owner", "boss@acme.test"); err != nil ||
		!strings.Contains(out, "slug acme-corp-2") {
		t.Errorf("org create (clash) = %q, %v", out, err)
	}
	var keyOut, keyErr bytes.Buffer
	if err := run(context.Background(), []string{"apikey", "create", "--org", "acme-corp"}, func(k string) string { return env[k] },
		&keyOut, &keyErr); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(keyOut.String())
	if !strings.HasPrefix(key, "usk_") || strings.Contains(key, "\n") {
		t.Fatalf("apikey create printed %q, want the key alone on stdout", key)
	}
	out, err = usher(t, env, "invite", "--org", "acme-corp", "ana@example.com,bob@example.com", "nope")
	if err == nil || !strings.Contains(out, "ana@example.com") || !strings.Contains(out, "/i/") || !strings.Contains(out, "invalid_email") {
		t.Errorf("invite = %q, %v; want two invited with links and one invalid", out, err)
	}
	for _, args := range [][]string{{"serve", "--help"}, {"invite", "-h"}, {"apikey", "create", "-help"}} {
		if out, err := usher(t, env, args...); err != nil || !strings.Contains(out, "Usage of usher "+args[0]) {
			t.Errorf("usher %s = %q, %v; want the flags and no error", strings.Join(args, " "), out, err)
		}
	}
	if _, err := usher(t, env, "frobnicate"); err == nil {
		t.Error("an unknown command succeeded")
	}
	if _, err := usher(t, env, "serve", "--invite-rate", "-1"); err == nil || !strings.Contains(err.Error(), "invite-rate") {
		t.Errorf("serve accepted --invite-rate -1: %v", err)
	}
	if _, err := usher(t, env, "serve", "--log-format", "xml"); err == nil {
		t.Error("serve accepted --log-format xml")
	}

	// serve: the API answers with the key made above; the invitation email
	// made by the CLI reaches the built-in mailbox; cancelling stops it.
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr}, func(k string) string { return env[k] }, stdout, io.Discard)
	}()
	base := "http://" + addr
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get("/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready; output: %s", stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "listening on http://localhost:") {
		t.Errorf("serve printed %q", stdout.String())
	}
	var msgs []map[string]any
	for {
		code, body := get("/api/v1/mailbox?to=ana@example.com")
		if code == 200 {
			json.Unmarshal(body, &msgs)
		}
		if len(msgs) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(msgs) != 1 || !strings.Contains(fmt.Sprint(msgs[0]["subject"]), "Acme Corp") {
		t.Errorf("mailbox for ana = %v", msgs)
	}
	code, body := get("/api/v1/orgs/acme-corp/invitations?q=bob")
	if code != 200 || !strings.Contains(string(body), `"source":"cli"`) {
		t.Errorf("list = %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestVersionString(t *testing.T) {
	t.Parallel()
	checkout := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "429f8e3c1a2b3c4d5e6f"}, {Key: "vcs.modified", Value: "true"}}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}}
	for _, c := range []struct {
		set  string
		bi   *debug.BuildInfo
		want string
	}{
		{"dev", checkout, "dev (commit 429f8e3c1a2b, modified; go1.26.0)"},
		{"dev", installed, "v1.2.3 (go1.26.0)"},
		{"v2.0.0", installed, "v2.0.0 (go1.26.0)"},
		{"dev", nil, "dev"},
		{"dev", &debug.BuildInfo{}, "dev"},
	} {
		if got := versionString(c.set, c.bi); got != c.want {
			t.Errorf("versionString(%q, %+v) = %q, want %q", c.set, c.bi, got, c.want)
		}
	}
}

// TestAdminCreatePersonalOrg: admin create follows the instance's
// personal-organization setting (USHER_PERSONAL_ORGS), as serve does.
func TestAdminCreatePersonalOrg(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		env := map[string]string{"USHER_DATA": filepath.Join(t.TempDir(), "data"), "USHER_PERSONAL_ORGS": fmt.Sprint(on)}
		if out, err := usher(t, env, "admin", "create", "--email", "boss@acme.test", "--password", "correct horse battery"); err != nil {
			t.Fatalf("admin create = %q, %v", out, err)
		}
		_, err := usher(t, env, "apikey", "create", "--org", "boss-s-organization")
		if got := err == nil; got != on {
			t.Errorf("USHER_PERSONAL_ORGS=%v: the admin's personal organization exists: %v (%v)", on, got, err)
		}
	}
}

// TestSetupLink: a first start prints a one-time link that creates the
// first admin (and an organization) and signs them in; it then stops
// working.
func TestSetupLink(t *testing.T) {
	t.Parallel()
	env := map[string]string{"USHER_DATA": filepath.Join(t.TempDir(), "data")}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr}, func(k string) string { return env[k] }, stdout, io.Discard)
	}()
	link := regexp.MustCompile(`http://localhost:\d+(/setup/[A-Za-z0-9_-]{43})\n`)
	var path string
	deadline := time.Now().Add(20 * time.Second)
	for path == "" {
		if m := link.FindStringSubmatch(stdout.String()); m != nil {
			path = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no setup link printed: %s", stdout.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + addr
	post := func(form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	get := func(p string) (int, string) {
		t.Helper()
		res, err := client.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(path); code != 200 || !strings.Contains(body, "Set up usher") {
		t.Fatalf("setup page = %d", code)
	}
	if code, _ := get(path[:len(path)-1] + "x"); code != http.StatusNotFound {
		t.Errorf("a wrong setup link = %d, want 404", code)
	}
	if res := post(url.Values{"email": {"boss@acme.test"}, "password": {"password"}, "password_confirm": {"password"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a common password = %d, want 422", res.StatusCode)
	}
	res := post(url.Values{"email": {"boss@acme.test"}, "password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}, "org": {"Acme Corp"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/orgs/acme-corp/" {
		t.Fatalf("setup = %d → %q, want 303 to the new organization", res.StatusCode, res.Header.Get("Location"))
	}
	if code, body := get("/admin/orgs/acme-corp/members"); code != 200 || !strings.Contains(body, "boss@acme.test") {
		t.Errorf("the new admin's console = %d", code)
	}
	if code, _ := get(path); code != http.StatusNotFound {
		t.Errorf("the setup link once used = %d, want 404", code)
	}
	if res := post(url.Values{"email": {"eve@acme.test"}, "password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("a second setup = %d, want 404", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
