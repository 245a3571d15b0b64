package mail

import (
	"context"
	"testing"

	"usher/internal/mail/smtptest"
)

// BenchmarkSend sends b.N pre-rendered messages as one batch, so over one
// connection, to the in-process server; ns/op is the cost of one message.
func BenchmarkSend(b *testing.B) {
	srv := smtptest.NewServer(b, smtptest.WithDiscard())
	sender := newSender(b, srv.URL())
	one := messages(b, 1)[0]
	msgs := make([]Message, b.N)
	for i := range msgs {
		msgs[i] = one
	}
	b.ResetTimer()
	errs := sender.Send(context.Background(), msgs)
	b.StopTimer()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("Send() error[%d] = %v", i, err)
		}
	}
	if got := srv.Count(); got != b.N {
		b.Fatalf("server received %d messages, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRender renders one invitation with every part (message, details,
// expiry) in both formats.
func BenchmarkRender(b *testing.B) {
	r := setup(b)
	d := sample(KindInvitation, "fr")
	for b.Loop() {
		if _, err := r.Render(d); err != nil {
			b.Fatal(err)
		}
	}
}
