package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"usher/internal/invite"
)

// Webhook messages are written in the transaction that records their event
// (one per endpoint of the event's organization), so an event is announced
// exactly when it is committed. A transaction that has read the
// organization knows how many endpoints it has (tx.hooks) and skips the
// write when there are none; one that has not writes through a join with
// the endpoints, which costs a statement and writes nothing when there are
// none.

// hookCount records that orgID has n webhook endpoints, as this transaction
// read them.
func (t *tx) hookCount(orgID string, n int) {
	if t.hooks == nil {
		t.hooks = map[string]int{}
	}
	t.hooks[orgID] = n
}

// noHooks tells whether this transaction knows orgID to have no endpoints.
func (t *tx) noHooks(orgID string) bool {
	n, ok := t.hooks[orgID]
	return ok && n == 0
}

// hookType names an event's type in webhook messages ("invitation.accepted").
func hookType(eventType string) string { return "invitation." + eventType }

// hookEvents writes the webhook messages of events, a few hundred per
// statement.
func (t *tx) hookEvents(ctx context.Context, events ...*invite.Event) error {
	var due []*invite.Event
	for _, e := range events {
		if e != nil && !t.noHooks(e.OrgID) {
			due = append(due, e)
		}
	}
	for part := range slices.Chunk(due, hookChunk) {
		var q strings.Builder
		q.WriteString(`WITH e (event_id, org_id, invitation_id, type, from_status, to_status, actor, detail, at) AS (VALUES `)
		args := make([]any, 0, 9*len(part))
		for i, e := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, %s)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, t.param(n+9, "timestamptz"))
			args = append(args, e.ID, e.OrgID, e.InvitationID, hookType(e.Type), string(e.From), string(e.To), e.Actor, e.Detail, t.t(e.At))
		}
		q.WriteString(`) INSERT INTO webhook_messages (webhook_id, event_id, org_id, invitation_id, type, from_status, to_status,
			actor, detail, at, due_at)
			SELECT w.id, e.event_id, e.org_id, e.invitation_id, e.type, e.from_status, e.to_status, e.actor, e.detail, e.at, e.at
			FROM e JOIN webhooks w ON w.org_id = e.org_id`)
		if _, err := t.q.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("sqlstore: webhook messages: %w", err)
		}
	}
	return nil
}

// hookChunk is how many events one statement announces (9 parameters
// each).
const hookChunk = 500

// param is $i, typed for PostgreSQL, which does not infer the types of
// parameters in a SELECT list.
func (t *tx) param(i int, typ string) string {
	if t.d == Postgres {
		return fmt.Sprintf("$%d::%s", i, typ)
	}
	return fmt.Sprintf("$%d", i)
}

// hookImport writes the webhook messages of the created events of the
// invitations an import's commit wrote on their rows (repeating it writes
// nothing more).
func (t *tx) hookImport(ctx context.Context, importID, orgID string, now time.Time) error {
	if t.noHooks(orgID) {
		return nil
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO webhook_messages (webhook_id, event_id, org_id, invitation_id, type,
		from_status, to_status, actor, detail, at, due_at)
		SELECT w.id, i.id, i.org_id, i.id, 'invitation.created', '', i.created_status, i.created_by, i.created_detail,
		i.created_at, `+t.param(3, "timestamptz")+`
		FROM invitations i JOIN webhooks w ON w.org_id = i.org_id
		WHERE i.import_id = $1 AND i.org_id = $2 AND i.created_by IS NOT NULL
		ON CONFLICT DO NOTHING`, importID, orgID, t.t(now))
	if err != nil {
		return fmt.Errorf("sqlstore: webhook messages: %w", err)
	}
	return nil
}

// hookDeliveries writes the webhook messages of email delivery outcomes:
// typ ("invitation.email_sent" or "invitation.email_failed") for the
// invitations of emailIDs (their invitation or reminder email) whose
// delivery status this transaction just recorded. The event's id is the
// email's.
func (t *tx) hookDeliveries(ctx context.Context, typ, detail string, invIDs, emailIDs []any, at time.Time) error {
	args := append([]any{typ, detail, t.t(at)}, invIDs...)
	args = append(args, emailIDs...)
	_, err := t.q.ExecContext(ctx, `INSERT INTO webhook_messages (webhook_id, event_id, org_id, invitation_id, type,
		from_status, to_status, actor, detail, at, due_at)
		SELECT w.id, o.id, i.org_id, i.id, `+t.param(1, "text")+`, i.status, i.status, 'system', `+t.param(2, "text")+`, `+
		t.param(3, "timestamptz")+`, `+t.param(3, "timestamptz")+`
		FROM outbox o JOIN invitations i ON i.id = o.invitation_id JOIN webhooks w ON w.org_id = i.org_id
		WHERE i.id IN (`+placeholders(4, len(invIDs))+`) AND o.id IN (`+placeholders(4+len(invIDs), len(emailIDs))+`)
		ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: webhook messages: %w", err)
	}
	return nil
}

func (t *tx) InsertWebhook(ctx context.Context, w *invite.Webhook) (int, error) {
	if _, err := t.q.ExecContext(ctx, `INSERT INTO webhooks (id, org_id, url, secret, description, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, w.ID, w.OrgID, w.URL, w.Secret, w.Description, t.t(w.CreatedAt)); err != nil {
		return 0, fmt.Errorf("sqlstore: insert webhook: %w", err)
	}
	return t.countHooks(ctx, w.OrgID, 1)
}

// countHooks adds delta to the organization's count of endpoints and
// returns the new count. The update holds the organization's row until
// the transaction ends, so simultaneous adds see each other's counts. A
// create guarded by the organization as remembered (orgcache.go) then
// writes nothing, so it takes the transactional path, which writes the
// messages.
func (t *tx) countHooks(ctx context.Context, orgID string, delta int) (int, error) {
	var n int
	err := t.q.QueryRowContext(ctx, `UPDATE organizations SET webhooks = webhooks + $2 WHERE id = $1 RETURNING webhooks`,
		orgID, delta).Scan(&n)
	if err := one(err, "organization"); err != nil {
		return 0, err
	}
	t.hookCount(orgID, n)
	return n, nil
}

func (t *tx) Webhooks(ctx context.Context, orgID string) ([]invite.Webhook, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT id, org_id, url, description, created_at FROM webhooks
		WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: webhooks: %w", err)
	}
	defer rows.Close()
	out := []invite.Webhook{}
	for rows.Next() {
		var w invite.Webhook
		if err := rows.Scan(&w.ID, &w.OrgID, &w.URL, &w.Description, tc(&w.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (t *tx) DeleteWebhook(ctx context.Context, orgID, id string) error {
	// Its messages go with it (ON DELETE CASCADE).
	res, err := t.q.ExecContext(ctx, `DELETE FROM webhooks WHERE org_id = $1 AND id = $2`, orgID, id)
	if err := affected(res, err, invite.ErrNotFound); err != nil {
		return err
	}
	_, err = t.countHooks(ctx, orgID, -1)
	return err
}

func (t *tx) WebhookMessages(ctx context.Context, orgID, webhookID string, limit int) ([]invite.WebhookMessage, error) {
	var found int
	err := t.q.QueryRowContext(ctx, `SELECT 1 FROM webhooks WHERE id = $1 AND org_id = $2`, webhookID, orgID).Scan(&found)
	if err := one(err, "webhook"); err != nil {
		return nil, err
	}
	rows, err := t.q.QueryContext(ctx, fmt.Sprintf(`SELECT m.event_id, m.type, m.invitation_id, COALESCE(i.email, ''), m.at,
		m.status, m.attempts, m.last_status, m.last_error, m.due_at, m.delivered_at
		FROM webhook_messages m LEFT JOIN invitations i ON i.id = m.invitation_id WHERE m.webhook_id = $1
		ORDER BY m.at DESC, m.event_id DESC LIMIT %d`, limit), webhookID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: webhook messages: %w", err)
	}
	defer rows.Close()
	out := []invite.WebhookMessage{}
	for rows.Next() {
		var m invite.WebhookMessage
		var due, delivered time.Time
		if err := rows.Scan(&m.EventID, &m.Type, &m.InvitationID, &m.Email, tc(&m.At), &m.Status, &m.Attempts, &m.LastStatus,
			&m.LastError, tc(&due), tc(&delivered)); err != nil {
			return nil, err
		}
		if m.Status == invite.HookQueued {
			m.NextAttempt = &due
		}
		if !delivered.IsZero() {
			m.DeliveredAt = &delivered
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// HookDelivery is a webhook message claimed for delivery, with what its
// request needs.
type HookDelivery struct {
	WebhookID    string
	URL          string
	Secret       string
	EventID      string
	Type         string
	Org          string // the organization's slug
	InvitationID string
	Email        string
	From, To     string
	Actor        string
	Detail       string
	At           time.Time
	Attempts     int // including this one
}

// ClaimHooks reserves up to limit due webhook messages for owner until
// now+lease and returns them, oldest first, in three statements.
func (s *Store) ClaimHooks(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]HookDelivery, error) {
	var out []HookDelivery
	err := s.inTx(ctx, func(t *tx) error {
		out = out[:0]
		lock := ""
		if t.d == Postgres {
			lock = " FOR UPDATE SKIP LOCKED"
		}
		// As in ClaimEmails, the due messages are chosen once.
		rows, err := t.q.QueryContext(ctx, fmt.Sprintf(`WITH due AS MATERIALIZED (SELECT webhook_id, event_id
				FROM webhook_messages WHERE status = 'queued' AND due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
				ORDER BY due_at, at, event_id LIMIT %d%s)
			UPDATE webhook_messages SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
			WHERE (webhook_id, event_id) IN (SELECT webhook_id, event_id FROM due)
			RETURNING webhook_id, event_id, type, invitation_id, from_status, to_status, actor, detail, at, attempts`, limit, lock),
			owner, t.t(now.Add(lease)), t.t(now))
		if err != nil {
			return fmt.Errorf("sqlstore: claim webhook messages: %w", err)
		}
		for rows.Next() {
			var d HookDelivery
			if err := rows.Scan(&d.WebhookID, &d.EventID, &d.Type, &d.InvitationID, &d.From, &d.To, &d.Actor, &d.Detail,
				tc(&d.At), &d.Attempts); err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(out) == 0 {
			return err
		}
		slices.SortFunc(out, func(a, b HookDelivery) int { return a.At.Compare(b.At) })
		// What the requests need: the endpoints, and the invitations' emails.
		var hookIDs, invIDs []any
		for _, d := range out {
			hookIDs, invIDs = append(hookIDs, d.WebhookID), append(invIDs, d.InvitationID)
		}
		type endpoint struct{ url, secret, org string }
		hooks := map[string]endpoint{}
		if err := t.each(ctx, `SELECT w.id, w.url, w.secret, o.slug FROM webhooks w JOIN organizations o ON o.id = w.org_id
			WHERE w.id IN (`+placeholders(1, len(hookIDs))+`)`, hookIDs, func(r *sql.Rows) error {
			var id string
			var e endpoint
			err := r.Scan(&id, &e.url, &e.secret, &e.org)
			hooks[id] = e
			return err
		}); err != nil {
			return fmt.Errorf("sqlstore: claim webhook messages: %w", err)
		}
		emails := map[string]string{}
		if err := t.each(ctx, `SELECT id, email FROM invitations WHERE id IN (`+placeholders(1, len(invIDs))+`)`, invIDs,
			func(r *sql.Rows) error {
				var id, email string
				err := r.Scan(&id, &email)
				emails[id] = email
				return err
			}); err != nil {
			return fmt.Errorf("sqlstore: claim webhook messages: %w", err)
		}
		for i := range out {
			e := hooks[out[i].WebhookID]
			out[i].URL, out[i].Secret, out[i].Org, out[i].Email = e.url, e.secret, e.org, emails[out[i].InvitationID]
		}
		return nil
	})
	return out, err
}

// each runs q with args and calls fn on every row.
func (t *tx) each(ctx context.Context, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := t.q.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// HookResult is what became of a claimed webhook message.
type HookResult struct {
	Delivery   HookDelivery
	Delivered  bool
	Failed     bool      // no more attempts
	RetryAt    time.Time // when neither
	HTTPStatus int
	Error      string
}

// CompleteHooks records results for owner's claimed messages; one another
// instance has claimed since (owner's lease ran out) is left to it.
func (s *Store) CompleteHooks(ctx context.Context, owner string, now time.Time, results []HookResult) error {
	return s.inTx(ctx, func(t *tx) error {
		for _, r := range results {
			status, due, delivered := invite.HookQueued, r.RetryAt, time.Time{}
			switch {
			case r.Delivered:
				status, due, delivered = invite.HookDelivered, now, now
			case r.Failed:
				status, due = invite.HookFailed, now
			}
			_, err := t.q.ExecContext(ctx, `UPDATE webhook_messages SET status = $4, due_at = $5, delivered_at = $6,
				last_status = $7, last_error = $8, lease_owner = NULL, lease_until = NULL
				WHERE webhook_id = $1 AND event_id = $2 AND lease_owner = $3`,
				r.Delivery.WebhookID, r.Delivery.EventID, owner, status, t.t(due), t.t(delivered), r.HTTPStatus, r.Error)
			if err != nil {
				return fmt.Errorf("sqlstore: complete webhook message: %w", err)
			}
		}
		return nil
	})
}
