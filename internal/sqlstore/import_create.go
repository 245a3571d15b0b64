package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

// The set-based half of an import: duplicate lookups past the preview's
// memory, and the commit's creation of every plain invitation with one
// INSERT … SELECT per table over the batch's stored rows. A statement per
// table, rather than one per 500 rows, matters on SQLite beyond the
// values it does not send: each statement opens a savepoint, at which the
// search index flushes what it holds as a new segment to be merged later,
// and every page the statement touches is copied to the statement
// journal once per statement.

// impPlain selects the rows CreateImportInvitations creates: still ok
// after the commit's re-check, with a token planned.
const impPlain = `r.import_id = %s AND r.outcome = 'ok' AND r.token_hash IS NOT NULL`

func (t *tx) ImportFirstRows(ctx context.Context, importID string, emails []string) (map[string]int, error) {
	out := make(map[string]int)
	if len(emails) == 0 {
		return out, nil
	}
	per := impMaxParams - 1
	for start := 0; start < len(emails); start += per {
		q, args := importFirstRowsQuery(t.d, importID, emails[start:min(len(emails), start+per)])
		rows, err := t.q.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: import first rows: %w", err)
		}
		for rows.Next() {
			var email string
			var line int
			if err := rows.Scan(&email, &line); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlstore: import first rows: %w", err)
			}
			out[email] = line
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: import first rows: %w", err)
		}
	}
	return out, nil
}

// importFirstRowsQuery looks emails up among an import's rows marked
// first_seen. On SQLite it names the partial index to use: given a list
// of addresses, the planner prefers the primary key's range over the
// whole import (import_rows has no rowid, so that range holds every
// column); asked once a chunk, that made a million-row preview
// quadratic.
func importFirstRowsQuery(d Dialect, importID string, emails []string) (string, []any) {
	a := &impArgs{d: d}
	if d == Postgres {
		q := `SELECT email, line FROM import_rows WHERE import_id = ` + a.add(importID) +
			` AND first_seen AND email = ANY(` + a.add(emails) + `::text[])`
		return q, a.args
	}
	var q strings.Builder
	q.WriteString(`SELECT email, line FROM import_rows INDEXED BY import_rows_first_seen WHERE import_id = ` +
		a.add(importID) + ` AND first_seen AND email IN (`)
	for i, e := range emails {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(a.add(e))
	}
	q.WriteString(")")
	return q.String(), a.args
}

func (t *tx) ImportOutcomes(ctx context.Context, importID string) (map[string]int, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT outcome, count(*) FROM import_rows WHERE import_id = $1 GROUP BY outcome`, importID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: import outcomes: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			return nil, fmt.Errorf("sqlstore: import outcomes: %w", err)
		}
		out[o] = n
	}
	return out, rows.Err()
}

func (t *tx) UnplanImportRows(ctx context.Context, importID string, lines []int) error {
	per := impMaxParams - 1
	for start := 0; start < len(lines); start += per {
		part := lines[start:min(len(lines), start+per)]
		a := &impArgs{d: t.d}
		var q strings.Builder
		q.WriteString(`UPDATE import_rows SET token_nonce = NULL, token_hash = NULL WHERE import_id = ` + a.add(importID) + ` AND line IN (`)
		for i, l := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(a.add(l))
		}
		q.WriteString(")")
		if _, err := t.q.ExecContext(ctx, q.String(), a.args...); err != nil {
			return fmt.Errorf("sqlstore: unplan import rows: %w", err)
		}
	}
	return nil
}

// CreateImportInvitations creates the invitations of the batch's plain
// rows in two statements: invitations, with their created events and
// their emails on the row (skipping an address invited meanwhile by
// someone else, whose row becomes already_invited), and their groups
// (joined by name, as the rows spell them).
func (t *tx) CreateImportInvitations(ctx context.Context, c *invite.ImportCreate) (int, error) {
	ph := func(i int) string { return fmt.Sprintf("$%d", i) }
	// PostgreSQL types a parameter in a SELECT list as text unless told.
	ts, num := func(i int) string { return ph(i) }, func(i int) string { return ph(i) }
	if t.d == Postgres {
		ts = func(i int) string { return ph(i) + "::timestamptz" }
		num = func(i int) string { return ph(i) + "::integer" }
	}
	plain := fmt.Sprintf(impPlain, ph(1))
	var expected int
	if err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM import_rows r WHERE `+plain, c.ImportID).Scan(&expected); err != nil {
		return 0, fmt.Errorf("sqlstore: create import invitations: %w", err)
	}
	if expected == 0 {
		return 0, nil
	}
	delivery, sends, mailDue := invite.DeliveryNone, 0, time.Time{}
	if c.SendEmail {
		// Each invitation's email is due now, recorded on the invitation
		// (mail_due); the mail worker moves them to the outbox as it goes.
		delivery, sends, mailDue = invite.DeliveryQueued, 1, c.Now
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO invitations (id, org_id, email, first_name, last_name, username, language,
		role, admin, message, status, inviter_id, source, import_id, created_at, updated_at, sent_at, send_count,
		expires_at, delivery_status, token_hash, token_nonce, search, mail_due,
		created_by_id, created_by, created_status, created_detail, version)
		SELECT r.invitation_id, `+ph(2)+`, r.email, r.first_name, r.last_name, '', r.language,
		COALESCE(NULLIF(r.role, ''), `+ph(3)+`), r.is_admin, `+ph(4)+`, `+ph(5)+`, `+ph(6)+`, `+ph(7)+`, r.import_id,
		`+ts(8)+`, `+ts(8)+`, `+ts(8)+`, `+num(9)+`, `+ts(10)+`, `+ph(11)+`, r.token_hash, r.token_nonce, r.search, `+ts(12)+`,
		`+ph(13)+`, `+ph(14)+`, `+ph(5)+`, `+ph(15)+`, 1
		FROM import_rows r WHERE `+plain+` ORDER BY r.line
		ON CONFLICT DO NOTHING`,
		c.ImportID, c.OrgID, account.RoleMember, c.Message, string(invite.StatusPending), null(c.InviterID),
		invite.SourceImport, t.t(c.Now), sends, t.t(c.ExpiresAt), delivery, t.t(mailDue),
		null(c.ActorID), c.Actor, c.EventDetail)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: create import invitations: %w", err)
	}
	n64, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: create import invitations: %w", err)
	}
	created := int(n64)
	if created < expected {
		// Invited meanwhile (after the re-check, by another transaction):
		// already invited now, and left out of what follows.
		if _, err := t.q.ExecContext(ctx, `UPDATE import_rows SET outcome = 'already_invited', detail = 'invited meanwhile',
			invitation_id = NULL WHERE import_id = `+ph(1)+` AND outcome = 'ok' AND token_hash IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.id = import_rows.invitation_id)`, c.ImportID); err != nil {
			return 0, fmt.Errorf("sqlstore: create import invitations: %w", err)
		}
	}
	if _, err := t.q.ExecContext(ctx, importGroupLinks(t.d), c.ImportID, c.OrgID); err != nil {
		return 0, fmt.Errorf("sqlstore: create import invitation groups: %w", err)
	}
	if err := t.hookImport(ctx, c.ImportID, c.OrgID, c.Now); err != nil {
		return 0, err
	}
	return created, nil
}

// importGroupLinks links the invitations CreateImportInvitations created
// ($1: the import) to their groups, found by name in the organization
// ($2). Each row's group list is parsed once and each name looked up by
// index: left to itself, SQLite's planner walked the organization's
// groups for every row and parsed the list once per group.
func importGroupLinks(d Dialect) string {
	plain := fmt.Sprintf(impPlain, "$1")
	from := `FROM import_rows r CROSS JOIN json_each(r.groups) j CROSS JOIN groups g
		WHERE ` + plain + ` AND r.groups <> '' AND g.org_id = $2 AND g.name = j.value`
	if d == Postgres {
		from = `FROM import_rows r CROSS JOIN LATERAL json_array_elements_text(r.groups::json) AS j (name)
		JOIN groups g ON g.org_id = $2 AND g.name = j.name WHERE ` + plain + ` AND r.groups <> ''`
	}
	return `INSERT INTO invitation_groups (invitation_id, group_id) SELECT r.invitation_id, g.id ` + from + ` ORDER BY r.line`
}

func (t *tx) ImportRechecks(ctx context.Context, r invite.ImportRecheck) ([]invite.ImportRow, error) {
	a := &impArgs{d: t.d}
	q := `SELECT ` + impRowCols + `, token_hash IS NOT NULL FROM import_rows r WHERE r.import_id = ` + a.add(r.ImportID) +
		` AND r.line > ` + a.add(r.AfterLine) + ` AND r.outcome IN ('ok', 'existing_user')`
	if !r.All {
		// On SQLite the placeholders are positional: add the arguments in
		// the order the text names them.
		roles := t.impNotIn(a, "r.role", r.Roles)
		var elems string
		if t.d == Postgres {
			elems = `json_array_elements_text(r.groups::json) AS j (name) WHERE ` + t.impNotIn(a, "j.name", r.Groups)
		} else {
			elems = `json_each(r.groups) j WHERE ` + t.impNotIn(a, "j.value", r.Groups)
		}
		org := a.add(r.OrgID)
		q += ` AND (r.outcome = 'existing_user' OR r.token_hash IS NULL OR ` + roles + `
			OR (r.groups <> '' AND EXISTS (SELECT 1 FROM ` + elems + `))
			OR EXISTS (SELECT 1 FROM users u WHERE u.email = r.email)
			OR EXISTS (SELECT 1 FROM invitations i WHERE i.org_id = ` + org + ` AND i.email = r.email
				AND i.status IN ('draft', 'pending', 'awaiting_approval')))`
	}
	limit := r.Limit
	if limit <= 0 {
		limit = 500
	}
	return t.impRows(ctx, q+` ORDER BY r.line LIMIT `+fmt.Sprint(limit), limit, a.args...)
}

// impNotIn is "col NOT IN (values)", true for no values.
func (t *tx) impNotIn(a *impArgs, col string, values []string) string {
	if t.d == Postgres {
		if values == nil {
			values = []string{} // nil would be NULL, and NOT (x = ANY(NULL)) is NULL
		}
		return `NOT (` + col + ` = ANY(` + a.add(values) + `::text[]))`
	}
	if len(values) == 0 {
		return `TRUE`
	}
	var b strings.Builder
	b.WriteString(col + ` NOT IN (`)
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.add(v))
	}
	b.WriteString(")")
	return b.String()
}
