package sqlstore

import (
	"context"
	"fmt"
	"time"

	"usher/internal/invite"
)

// Password resets and sign-up links (invite/password.go).

const resetCols = `id, user_id, email, first_name, last_name, nonce, token_hash, created_at, expires_at, used_at`

func scanReset(row interface{ Scan(...any) error }) (*invite.PasswordReset, error) {
	var p invite.PasswordReset
	err := row.Scan(&p.ID, ns(&p.UserID), &p.Email, &p.FirstName, &p.LastName, &p.Nonce, &p.TokenHash,
		tc(&p.CreatedAt), tc(&p.ExpiresAt), tc(&p.UsedAt))
	return &p, err
}

func (t *tx) InsertPasswordReset(ctx context.Context, p *invite.PasswordReset) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO password_resets (`+resetCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		p.ID, null(p.UserID), p.Email, p.FirstName, p.LastName, p.Nonce, p.TokenHash, t.t(p.CreatedAt),
		t.t(p.ExpiresAt), t.t(p.UsedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert password reset: %w", err)
	}
	return nil
}

func (t *tx) PasswordReset(ctx context.Context, id string) (*invite.PasswordReset, error) {
	p, err := scanReset(t.q.QueryRowContext(ctx, `SELECT `+resetCols+` FROM password_resets WHERE id = $1`, id))
	if err := one(err, "password reset"); err != nil {
		return nil, err
	}
	return p, nil
}

func (t *tx) PasswordResetByHash(ctx context.Context, hash string) (*invite.PasswordReset, error) {
	p, err := scanReset(t.q.QueryRowContext(ctx, `SELECT `+resetCols+` FROM password_resets WHERE token_hash = $1`, hash))
	if err := one(err, "password reset by hash"); err != nil {
		return nil, err
	}
	return p, nil
}

func (t *tx) CountPasswordResets(ctx context.Context, email string, since time.Time) (int, error) {
	var n int
	err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM password_resets WHERE email = $1 AND created_at >= $2`,
		email, t.t(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: count password resets: %w", err)
	}
	return n, nil
}

func (t *tx) UsePasswordResets(ctx context.Context, email string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `UPDATE password_resets SET used_at = $2 WHERE email = $1 AND used_at IS NULL`,
		email, t.t(at))
	if err != nil {
		return fmt.Errorf("sqlstore: use password resets: %w", err)
	}
	return nil
}

func (t *tx) LiveInvitationsByEmail(ctx context.Context, email string) ([]*invite.Invitation, error) {
	return t.listWhere(ctx, `WHERE i.email = $1 AND i.status IN ('draft', 'pending', 'awaiting_approval')`, email)
}
