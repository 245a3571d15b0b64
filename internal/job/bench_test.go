package job_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/mail"
	"usher/internal/mail/smtptest"
	"usher/internal/sqlstore/storetest"
)

// recorder is a Sender that keeps what it sent, so the benchmark can send
// the very same rendered messages again through go-mail alone.
type recorder struct {
	mail.Sender
	mu   sync.Mutex
	msgs []mail.Message
}

func (r *recorder) Send(ctx context.Context, msgs []mail.Message) []error {
	r.mu.Lock()
	r.msgs = append(r.msgs, msgs...)
	r.mu.Unlock()
	return r.Sender.Send(ctx, msgs)
}

// BenchmarkDeliver measures email delivery end to end: 1,000 invitation
// emails due in the outbox, claimed, rendered from the database, sent to
// the in-process SMTP server and marked sent by DeliverOnce rounds (the
// default batch of 200); then the same rendered messages sent by go-mail
// (mail.SMTPSender) over one connection, in the same run. It reports both
// rates and their ratio.
func BenchmarkDeliver(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			bb := setup(b, e, options{smtpOpts: []smtptest.Option{smtptest.WithDiscard()}})
			rec := &recorder{Sender: bb.sender}
			runner := job.New(job.Config{}, bb.store, bb.svc, bb.renderer, rec, benchLog(b))
			const perRound = 1000
			var e2e, raw time.Duration
			next := 0
			for b.Loop() {
				b.StopTimer()
				emails := make([]string, perRound)
				for i := range emails {
					emails[i] = fmt.Sprintf("bench%07d@example.test", next)
					next++
				}
				for part := range slices.Chunk(emails, 500) {
					res, err := bb.svc.InviteMany(bb.ctx, bb.owner, bb.org.Slug, part,
						invite.Options{Message: "Welcome to the team!", FirstName: "Sam"}, false)
					if err != nil || res[0].Err != nil {
						b.Fatalf("InviteMany: %v %v", err, res[0].Err)
					}
				}
				rec.msgs = rec.msgs[:0]
				before := bb.smtp.Count()
				b.StartTimer()

				start := time.Now()
				for {
					n, err := runner.DeliverOnce(bb.ctx)
					if err != nil {
						b.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				e2e += time.Since(start)

				b.StopTimer()
				if got := bb.smtp.Count() - before; got != perRound {
					b.Fatalf("server received %d messages, want %d", got, perRound)
				}
				msgs := slices.Clone(rec.msgs)
				start = time.Now()
				for i, err := range bb.sender.Send(bb.ctx, msgs) {
					if err != nil {
						b.Fatalf("Send[%d]: %v", i, err)
					}
				}
				raw += time.Since(start)
				b.StartTimer()
			}
			n := float64(b.N * perRound)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(n/e2e.Seconds(), "emails/s")
			b.ReportMetric(n/raw.Seconds(), "raw-emails/s")
			b.ReportMetric(100*raw.Seconds()/e2e.Seconds(), "%-of-raw")
		})
	}
}

// benchLog logs each batch's phases (claim, render, send, complete) when
// the benchmark runs with -v.
func benchLog(b *testing.B) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
