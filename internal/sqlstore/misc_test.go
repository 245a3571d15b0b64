package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"usher/internal/sqlstore/storetest"
)

// TestPurgeIdempotency: answers older than the cut are removed, and their
// keys start afresh; younger ones are still replayed.
func TestPurgeIdempotency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
		for i, key := range []string{"old", "young"} {
			at := t0.Add(time.Duration(i) * 48 * time.Hour)
			if prior, err := s.BeginIdempotent(ctx, "key:k", key, "h", at, 24*time.Hour); err != nil || prior != nil {
				t.Fatalf("begin %s: %+v, %v", key, prior, err)
			}
			if err := s.FinishIdempotent(ctx, "key:k", key, 201, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.PurgeIdempotency(ctx, t0.Add(24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
		now := t0.Add(49 * time.Hour)
		if prior, err := s.BeginIdempotent(ctx, "key:k", "old", "h", now, 24*time.Hour); err != nil || prior != nil {
			t.Errorf("old key after the purge: %+v, %v; want a fresh start", prior, err)
		}
		if prior, err := s.BeginIdempotent(ctx, "key:k", "young", "h", now, 24*time.Hour); err != nil || prior == nil || prior.Status != 201 {
			t.Errorf("young key after the purge: %+v, %v; want its answer", prior, err)
		}
	})
}

// TestCloseTwice: a second Close does nothing and answers as the first;
// the closed store refuses work instead of hanging.
func TestCloseTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		if err := s.Close(); err != nil {
			t.Fatalf("first close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if _, err := s.PurgeIdempotency(context.Background(), time.Now()); err == nil {
			t.Error("a write on the closed store succeeded")
		}
	})
}
