package job_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/mail/smtptest"
	"usher/internal/sqlstore"
	"usher/internal/sqlstore/storetest"
)

// processBatch is --job-batch for the processes: the most emails one
// instance has claimed and not yet marked at any moment, so the most a
// SIGKILL can make another instance send again.
const processBatch = 50

// TestTwoProcesses runs two `usher serve` processes on one PostgreSQL
// database and one SMTP server. 1,000 invitations: 1,000 emails, none
// twice. Then 1,000 more, and one process is killed (SIGKILL) while they
// go out: every invitation is still delivered, by the survivor once the
// dead one's lease runs out, and the emails received twice are no more
// than the one batch the dead process had claimed.
func TestTwoProcesses(t *testing.T) {
	e := storetest.Engines()[1]
	if e.Name != "postgres" {
		t.Fatal("storetest.Engines()[1] is not PostgreSQL")
	}
	opts := e.Options(t) // skips without a PostgreSQL server
	t.Parallel()
	ctx := context.Background()
	bin := buildUsher(t)

	store, err := sqlstore.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tokens, err := invite.NewTokens(testKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := invite.New(store, nil, account.NewHasher(4), tokens, invite.Config{BaseURL: baseURL}, nil)
	u, err := svc.CreateUser(ctx, "owner@acme.test", "correct horse battery", false)
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrg(ctx, "Acme Corp", "", u.Email)
	if err != nil {
		t.Fatal(err)
	}
	owner := invite.Actor{UserID: u.ID, Email: u.Email}
	srv := smtptest.NewServer(t)

	// 400 emails a second each: a round of 1,000 takes over a second, so
	// the kill lands while both instances are sending.
	args := []string{"serve", "--database-url", opts.DatabaseURL, "--smtp-url", srv.URL(),
		"--secret", hex.EncodeToString(testKey), "--addr", "127.0.0.1:0", "--base-url", baseURL,
		"--send-rate", "400", "--job-batch", fmt.Sprint(processBatch), "--job-lease", "3s", "--job-poll", "50ms",
		"--log-level", "warn"}
	a := startUsher(t, bin, args)
	startUsher(t, bin, args)

	inviteAll := func(emails []string) {
		t.Helper()
		for part := range slices.Chunk(emails, 100) {
			res, err := svc.InviteMany(ctx, owner, org.Slug, part, invite.Options{}, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					t.Fatalf("InviteMany: %s: %v", r.Email, r.Err)
				}
			}
		}
	}
	// wait waits for every address of emails to have a message, then a
	// little longer for any duplicate still on its way.
	wait := func(emails []string) map[string]int {
		t.Helper()
		waitFor(t, 30*time.Second, "every invitee's email", func() bool { return countFor(srv, emails) == len(emails) })
		// Everything marked sent: nothing more can arrive.
		waitFor(t, 10*time.Second, "every email marked sent", func() bool {
			var queued int
			store.DB().QueryRow(`SELECT count(*) FROM outbox WHERE status = 'queued'`).Scan(&queued)
			return queued == 0
		})
		got := perRecipient(srv.Messages())
		for _, to := range emails {
			if got[to] == 0 {
				t.Errorf("%s received nothing", to)
			}
		}
		return got
	}

	round1 := make([]string, 1000)
	for i := range round1 {
		round1[i] = fmt.Sprintf("one%04d@example.test", i)
	}
	start := time.Now()
	inviteAll(round1)
	got := wait(round1)
	for _, to := range round1 {
		if got[to] > 1 {
			t.Errorf("%s received %d messages, want 1", to, got[to])
		}
	}
	t.Logf("round 1: 1,000 emails through two processes in %v", time.Since(start).Round(time.Millisecond))

	round2 := make([]string, 1000)
	for i := range round2 {
		round2[i] = fmt.Sprintf("two%04d@example.test", i)
	}
	before := srv.Count()
	start = time.Now()
	// Kill while the round is still being created and sent.
	killed := make(chan int, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		srv.WaitFor(wctx, before+300)
		a.Process.Signal(syscall.SIGKILL)
		killed <- srv.Count() - before
	}()
	inviteAll(round2)
	killedAt := <-killed
	got = wait(round2)
	dups := 0
	for _, to := range round2 {
		dups += max(0, got[to]-1)
	}
	t.Logf("round 2: killed one process after %d of 1,000 emails; all delivered in %v; %d sent twice (bound %d)",
		killedAt, time.Since(start).Round(time.Millisecond), dups, processBatch)
	if dups > processBatch {
		t.Errorf("%d emails sent twice, want at most one claimed batch (%d)", dups, processBatch)
	}
}

// countFor counts the addresses of emails that received at least one message.
func countFor(srv *smtptest.Server, emails []string) int {
	got := perRecipient(srv.Messages())
	n := 0
	for _, to := range emails {
		if got[to] > 0 {
			n++
		}
	}
	return n
}

// buildUsher builds the usher command once into a temporary folder.
func buildUsher(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "usher")
	cmd := exec.Command("go", "build", "-o", bin, "usher/cmd/usher")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startUsher starts `usher args...`, waits until it listens, and kills it
// when the test ends.
func startUsher(t *testing.T, bin string, args []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "USHER_DATA="+cmd.Dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if s := stderr.String(); strings.Contains(s, "level=ERROR") {
			t.Logf("usher stderr:\n%s", s)
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("usher exited before listening:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("usher did not start:\n%s", stderr.String())
	}
	return cmd
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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
