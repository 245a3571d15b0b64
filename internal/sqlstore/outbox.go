package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"usher/internal/invite"
)

// mailData is an email's data column.
func mailData(e *invite.Email) string {
	if len(e.Data) > 0 {
		return string(e.Data)
	}
	return "{}"
}

func (t *tx) EnqueueEmail(ctx context.Context, e *invite.Email) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO outbox (id, org_id, kind, invitation_id, user_id, recipient, data,
		created_at, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, e.OrgID, e.Kind, null(e.InvitationID), null(e.UserID), e.To, mailData(e), t.t(e.DueAt), t.t(e.DueAt))
	if err != nil {
		return fmt.Errorf("sqlstore: enqueue email: %w", err)
	}
	return nil
}

// OutboxEmail is a due email claimed by a worker.
type OutboxEmail struct {
	invite.Email
	Attempts  int
	CreatedAt time.Time
}

// ClaimEmails leases up to limit due emails to owner until now+lease. An
// email whose lease ran out (its worker died) is claimable again, so
// delivery is at least once; the lease and the sent mark keep it to once
// in every case but a crash between the SMTP server's acceptance and the
// mark.
func (s *Store) ClaimEmails(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxEmail, error) {
	var out []OutboxEmail
	err := s.inTx(ctx, func(t *tx) error {
		out = out[:0]
		lock := ""
		if t.d == Postgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		if err := t.outboxDueInvitations(ctx, now, limit, lock); err != nil {
			return err
		}
		// The due ids are chosen once, in a materialized CTE: PostgreSQL
		// may otherwise plan "id IN (SELECT ... LIMIT n)" as a nested loop
		// that runs the subquery again for every outbox row, each run
		// locking n more, and so claim far more than limit.
		rows, err := t.q.QueryContext(ctx, fmt.Sprintf(`WITH due AS MATERIALIZED (SELECT id FROM outbox
				WHERE status = 'queued' AND due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
				ORDER BY due_at, id LIMIT %d%s)
			UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
			WHERE id IN (SELECT id FROM due) AND status = 'queued' AND (lease_until IS NULL OR lease_until < $3)
			RETURNING id, org_id, kind, invitation_id, user_id, recipient, data, due_at, attempts, created_at`, limit, lock),
			owner, t.t(now.Add(lease)), t.t(now))
		if err != nil {
			return fmt.Errorf("sqlstore: claim emails: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e OutboxEmail
			var data string
			if err := rows.Scan(&e.ID, &e.OrgID, &e.Kind, ns(&e.InvitationID), ns(&e.UserID), &e.To, &data,
				tc(&e.DueAt), &e.Attempts, tc(&e.CreatedAt)); err != nil {
				return err
			}
			e.Data = json.RawMessage(data)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// outboxDueInvitations moves up to limit invitation emails due by now
// from their invitations (mail_due, set when the invitation was created)
// into the outbox, where they are claimed like any other email. The
// email is due from the moment the invitation was written; what
// happened to the invitation since is for delivery to judge, as for an
// email queued in the outbox.
func (t *tx) outboxDueInvitations(ctx context.Context, now time.Time, limit int, lock string) error {
	rows, err := t.q.QueryContext(ctx, fmt.Sprintf(`SELECT id, org_id, email, mail_due FROM invitations
		WHERE mail_due IS NOT NULL AND mail_due <= $1 ORDER BY mail_due, id LIMIT %d%s`, limit, lock), t.t(now))
	if err != nil {
		return fmt.Errorf("sqlstore: due invitation emails: %w", err)
	}
	var due []*invite.Email
	for rows.Next() {
		// Made in the invitations' order: email ids are time-ordered too.
		e := &invite.Email{ID: invite.NewID(), Kind: invite.MailInvitation}
		if err := rows.Scan(&e.InvitationID, &e.OrgID, &e.To, tc(&e.DueAt)); err != nil {
			rows.Close()
			return err
		}
		due = append(due, e)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil || len(due) == 0 {
		return err
	}
	if err := t.EnqueueEmails(ctx, due); err != nil {
		return err
	}
	for part := range slices.Chunk(due, idChunk) {
		ids := make([]any, len(part))
		for i, e := range part {
			ids[i] = e.InvitationID
		}
		if _, err := t.q.ExecContext(ctx, `UPDATE invitations SET mail_due = NULL WHERE id IN (`+placeholders(1, len(ids))+`)`,
			ids...); err != nil {
			return fmt.Errorf("sqlstore: due invitation emails: %w", err)
		}
	}
	return nil
}

// EmailResult is what became of one claimed email.
type EmailResult struct {
	Email     OutboxEmail
	Sent      bool
	Skipped   bool      // not sent because it no longer applies (the invitation moved on)
	Permanent bool      // a permanent failure: not retried
	Error     string    // why it failed
	RetryAt   time.Time // for a temporary failure
}

// CompleteEmails records delivery results, and on the invitation an email
// was about, its delivery status (only for its latest invitation or
// reminder email: an older one's result is stale). Sent emails, the bulk
// of any batch, are marked with a few statements per batch rather than
// per email.
func (s *Store) CompleteEmails(ctx context.Context, now time.Time, results []EmailResult) error {
	var sent []EmailResult
	for _, r := range results {
		if r.Sent {
			sent = append(sent, r)
		}
	}
	return s.inTx(ctx, func(t *tx) error {
		for part := range slices.Chunk(sent, idChunk) {
			ids := make([]any, len(part))
			for i, r := range part {
				ids[i] = r.Email.ID
			}
			_, err := t.q.ExecContext(ctx, `UPDATE outbox SET status = 'sent', sent_at = $1, last_error = '',
				lease_owner = NULL, lease_until = NULL WHERE id IN (`+placeholders(2, len(ids))+`)`,
				append([]any{t.t(now)}, ids...)...)
			if err != nil {
				return fmt.Errorf("sqlstore: complete emails: %w", err)
			}
			if err := t.deliveryStatus(ctx, part, invite.DeliverySent, "", now, now); err != nil {
				return err
			}
		}
		for _, r := range results {
			var err error
			switch {
			case r.Sent:
				continue
			case r.Skipped:
				// The invitation's delivery status belongs to the email
				// that replaced this one; when none did (revoked or
				// accepted before it went out), nothing was delivered.
				_, err = t.q.ExecContext(ctx, `UPDATE outbox SET status = 'skipped', last_error = $2,
					lease_owner = NULL, lease_until = NULL WHERE id = $1`, r.Email.ID, r.Error)
				if err == nil {
					err = t.deliveryStatus(ctx, []EmailResult{r}, invite.DeliveryNone, "", time.Time{}, now)
				}
			case r.Permanent:
				_, err = t.q.ExecContext(ctx, `UPDATE outbox SET status = 'failed', last_error = $2,
					lease_owner = NULL, lease_until = NULL WHERE id = $1`, r.Email.ID, r.Error)
				if err == nil {
					err = t.deliveryStatus(ctx, []EmailResult{r}, invite.DeliveryFailed, r.Error, time.Time{}, now)
				}
			default:
				_, err = t.q.ExecContext(ctx, `UPDATE outbox SET due_at = $2, last_error = $3,
					lease_owner = NULL, lease_until = NULL WHERE id = $1`, r.Email.ID, t.t(r.RetryAt), r.Error)
			}
			if err != nil {
				return fmt.Errorf("sqlstore: complete email: %w", err)
			}
		}
		return nil
	})
}

// idChunk bounds the ids one statement lists (SQLite allows 32,766
// parameters; PostgreSQL 65,535).
const idChunk = 500

// deliveryStatus writes status on the invitations the invitation and
// reminder emails among results are about, where that email is the
// invitation's latest one (ordered by created_at, then id), and announces
// a sent or failed email to the organization's webhooks (event at now).
func (t *tx) deliveryStatus(ctx context.Context, results []EmailResult, status, reason string, delivered, now time.Time) error {
	var invIDs, emailIDs []any
	for _, r := range results {
		if r.Email.InvitationID != "" && (r.Email.Kind == invite.MailInvitation || r.Email.Kind == invite.MailReminder) {
			invIDs = append(invIDs, r.Email.InvitationID)
			emailIDs = append(emailIDs, r.Email.ID)
		}
	}
	if len(invIDs) == 0 {
		return nil
	}
	// Bumping the version makes a lifecycle change that read the
	// invitation before this write retry, instead of writing back a stale
	// delivery status.
	args := append([]any{status, reason, t.t(delivered)}, invIDs...)
	args = append(args, emailIDs...)
	_, err := t.q.ExecContext(ctx, `UPDATE invitations SET delivery_status = $1, delivery_error = $2,
		delivered_at = $3, version = version + 1 WHERE id IN (`+placeholders(4, len(invIDs))+`)
		AND (SELECT o.id FROM outbox o WHERE o.invitation_id = invitations.id AND o.kind IN ('invitation', 'reminder')
			ORDER BY o.created_at DESC, o.id DESC LIMIT 1) IN (`+placeholders(4+len(invIDs), len(emailIDs))+`)`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: delivery status: %w", err)
	}
	switch status {
	case invite.DeliverySent:
		return t.hookDeliveries(ctx, "invitation.email_sent", "", invIDs, emailIDs, now)
	case invite.DeliveryFailed:
		return t.hookDeliveries(ctx, "invitation.email_failed", reason, invIDs, emailIDs, now)
	}
	return nil
}

// InvitationsByID loads the invitations with the given ids (with their
// groups and inviter) in a few queries, for rendering a batch of email.
// Missing ids are absent from the map.
func (s *Store) InvitationsByID(ctx context.Context, ids []string) (map[string]*invite.Invitation, error) {
	out := make(map[string]*invite.Invitation, len(ids))
	t := &tx{q: s.read, d: s.dialect}
	for part := range slices.Chunk(ids, idChunk) {
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		invs, err := t.listWhere(ctx, `WHERE i.id IN (`+placeholders(1, len(args))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, inv := range invs {
			out[inv.ID] = inv
		}
	}
	return out, nil
}

// MailboxMessage is a message kept by the built-in mailbox.
type MailboxMessage struct {
	ID       string    `json:"id"`
	OutboxID string    `json:"-"`
	To       string    `json:"to"`
	Subject  string    `json:"subject"`
	Text     string    `json:"text"`
	HTML     string    `json:"html"`
	SentAt   time.Time `json:"sent_at"`
}

// SaveMailbox stores a message in the built-in mailbox; saving the same
// outbox email twice keeps one copy.
func (s *Store) SaveMailbox(ctx context.Context, msgs []MailboxMessage) error {
	return s.inTx(ctx, func(t *tx) error {
		for _, m := range msgs {
			_, err := t.q.ExecContext(ctx, `INSERT INTO mailbox (id, outbox_id, recipient, subject, text_body, html_body, sent_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
				m.ID, null(m.OutboxID), m.To, m.Subject, m.Text, m.HTML, t.t(m.SentAt))
			if err != nil {
				return fmt.Errorf("sqlstore: save mailbox: %w", err)
			}
		}
		return nil
	})
}

// Mailbox lists the built-in mailbox, newest first, optionally only the
// messages to one address.
func (s *Store) Mailbox(ctx context.Context, to string, limit int) ([]MailboxMessage, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	t := &tx{q: s.read, d: s.dialect}
	q := `SELECT id, recipient, subject, text_body, html_body, sent_at FROM mailbox`
	args := []any{}
	if to != "" {
		q += ` WHERE recipient = $1`
		args = append(args, to)
	}
	rows, err := t.q.QueryContext(ctx, q+fmt.Sprintf(` ORDER BY sent_at DESC, id DESC LIMIT %d`, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: mailbox: %w", err)
	}
	defer rows.Close()
	out := []MailboxMessage{}
	for rows.Next() {
		var m MailboxMessage
		if err := rows.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, tc(&m.SentAt)); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ExtendLeases keeps owner's claim on the emails ids until until, for a
// batch that takes longer to send than its lease; emails another instance
// has claimed since (owner's lease ran out) are left alone. It returns how
// many claims were extended.
func (s *Store) ExtendLeases(ctx context.Context, owner string, ids []string, until time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(t *tx) error {
		n = 0
		for part := range slices.Chunk(ids, idChunk) {
			args := []any{owner, t.t(until)}
			for _, id := range part {
				args = append(args, id)
			}
			res, err := t.q.ExecContext(ctx, `UPDATE outbox SET lease_until = $2 WHERE lease_owner = $1
				AND status = 'queued' AND id IN (`+placeholders(3, len(part))+`)`, args...)
			if err != nil {
				return fmt.Errorf("sqlstore: extend leases: %w", err)
			}
			m, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += m
		}
		return nil
	})
	return n, err
}
