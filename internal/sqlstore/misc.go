package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"usher/internal/invite"
)

// IdempotentResponse is a stored answer to a request with an
// Idempotency-Key. Status 0 means the first request is still running.
type IdempotentResponse struct {
	RequestHash string
	Status      int
	Body        []byte
}

// BeginIdempotent claims (scope, key) for a request whose body hashes to
// requestHash. It returns nil if the caller is first (it must then call
// FinishIdempotent or AbandonIdempotent), or the earlier request's record.
// Records older than maxAge are forgotten.
func (s *Store) BeginIdempotent(ctx context.Context, scope, key, requestHash string, now time.Time, maxAge time.Duration) (*IdempotentResponse, error) {
	var prior *IdempotentResponse
	err := s.inTx(ctx, func(t *tx) error {
		prior = nil
		if _, err := t.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at <= $3`,
			scope, key, t.t(now.Add(-maxAge))); err != nil {
			return err
		}
		res, err := t.q.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
			VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT DO NOTHING`, scope, key, requestHash, t.t(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var r IdempotentResponse
		var body string
		if err := t.q.QueryRowContext(ctx, `SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2`,
			scope, key).Scan(&r.RequestHash, &r.Status, &body); err != nil {
			return err
		}
		r.Body = []byte(body)
		prior = &r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: idempotency key: %w", err)
	}
	return prior, nil
}

// FinishIdempotent stores the answer of the request that claimed (scope, key).
func (s *Store) FinishIdempotent(ctx context.Context, scope, key string, status int, body []byte) error {
	return s.inTx(ctx, func(t *tx) error {
		_, err := t.q.ExecContext(ctx, `UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2`,
			scope, key, status, string(body))
		return err
	})
}

// AbandonIdempotent forgets a claim whose request failed on the server's
// side, so that a retry with the same key runs again.
func (s *Store) AbandonIdempotent(ctx context.Context, scope, key string) error {
	return s.inTx(ctx, func(t *tx) error {
		_, err := t.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2`, scope, key)
		return err
	})
}

// PurgeIdempotency removes answers older than before.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(t *tx) error {
		res, err := t.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, t.t(before))
		if err != nil {
			return fmt.Errorf("sqlstore: purge idempotency keys: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Session is a signed-in browser.
type Session struct {
	Hash       string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// CreateSession stores a session by the hash of its id.
func (s *Store) CreateSession(ctx context.Context, ses Session) error {
	return s.inTx(ctx, func(t *tx) error {
		_, err := t.q.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4)`,
			ses.Hash, ses.UserID, t.t(ses.CreatedAt), t.t(ses.LastSeenAt))
		return err
	})
}

// SessionByHash returns a session; invite.ErrNotFound if there is none.
func (s *Store) SessionByHash(ctx context.Context, hash string) (*Session, error) {
	t := &tx{q: s.read, d: s.dialect}
	var ses Session
	err := t.q.QueryRowContext(ctx, `SELECT hash, user_id, created_at, last_seen_at FROM sessions WHERE hash = $1`, hash).
		Scan(&ses.Hash, &ses.UserID, tc(&ses.CreatedAt), tc(&ses.LastSeenAt))
	if err := one(err, "session"); err != nil {
		return nil, err
	}
	return &ses, nil
}

// TouchSession records activity on a session.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	return s.inTx(ctx, func(t *tx) error {
		_, err := t.q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE hash = $1`, hash, t.t(at))
		return err
	})
}

// DeleteSessions removes one session (hash) or all of a user's (userID).
func (s *Store) DeleteSessions(ctx context.Context, hash, userID string) error {
	return s.inTx(ctx, func(t *tx) error {
		_, err := t.q.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1 OR user_id = $2`, hash, userID)
		return err
	})
}

// AcquireLease takes or renews the lease name for holder until now+d, and
// reports whether holder has it. Instances sharing a database use it so
// that periodic work runs on one of them at a time; a dead holder's lease
// runs out and another instance takes over.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, d time.Duration) (bool, error) {
	var got bool
	err := s.inTx(ctx, func(t *tx) error {
		res, err := t.q.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE leases.holder = excluded.holder OR leases.until < $4`, name, holder, t.t(now.Add(d)), t.t(now))
		if err != nil {
			return fmt.Errorf("sqlstore: lease: %w", err)
		}
		n, err := res.RowsAffected()
		got = n > 0
		return err
	})
	return got, err
}

// InstanceKey returns the instance's secret key, creating it on first use.
// An operator may instead pass one in configuration; a key kept here is
// readable by whoever can read the database.
func (s *Store) InstanceKey(ctx context.Context) ([]byte, error) {
	var value string
	err := s.inTx(ctx, func(t *tx) error {
		err := t.q.QueryRowContext(ctx, `SELECT value FROM instance WHERE key = 'secret'`).Scan(&value)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		b := make([]byte, invite.KeySize)
		rand.Read(b)
		value = hex.EncodeToString(b)
		_, err = t.q.ExecContext(ctx, `INSERT INTO instance (key, value) VALUES ('secret', $1)`, value)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: instance key: %w", err)
	}
	return hex.DecodeString(value)
}
