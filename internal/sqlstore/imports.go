package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"usher/internal/invite"
)

// Import batches. Everything that handles many rows does it with
// multi-row statements, a chunk of rows per statement: a 100,000-row
// import costs a few hundred statements, not a few hundred thousand.

// impMaxParams keeps one statement's parameters under SQLite's limit
// (32,766; PostgreSQL allows 65,535).
const impMaxParams = 30_000

// impRowsPer is how many rows of ncols columns one statement takes.
func impRowsPer(ncols int) int { return max(1, min(500, impMaxParams/ncols)) }

// impValues returns "(p, …), (…)" for n rows of ncols parameters
// numbered from from. SQLite gets plain "?": it resolves "$n" names with a
// linear search per parameter, which makes a statement of thousands of
// parameters cost quadratic time to prepare and bind.
func impValues(d Dialect, from, ncols, n int) string {
	var b strings.Builder
	b.Grow(n * ncols * 7)
	p := from
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range ncols {
			if j > 0 {
				b.WriteString(", ")
			}
			if d == SQLite {
				b.WriteByte('?')
			} else {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(p))
			}
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// impArgs collects the arguments of a statement written in text order,
// and returns each one's placeholder ("?" on SQLite; see impValues).
type impArgs struct {
	d    Dialect
	args []any
}

func (a *impArgs) add(v any) string {
	a.args = append(a.args, v)
	if a.d == SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(len(a.args))
}

// impInsert inserts n rows with "INSERT INTO head VALUES …" in statements
// of as many rows as fit; row appends row i's ncols arguments.
func (t *tx) impInsert(ctx context.Context, head string, ncols, n int, row func(i int, args []any) []any) error {
	per := impRowsPer(ncols)
	args := make([]any, 0, per*ncols)
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(i, args)
		}
		if err := t.impExec(ctx, head+" VALUES "+impValues(t.d, 1, ncols, end-start), end-start == per, args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) InsertImport(ctx context.Context, imp *invite.Import) error {
	opts, totals, warnings, err := impJSON(imp)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO imports (id, org_id, created_by, status, error_code, error, filename,
		options, totals, warnings, rows_read, created_count, commit_owner, created_at, previewed_at, commit_started_at,
		committed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		imp.ID, imp.OrgID, null(imp.CreatedBy), string(imp.Status), imp.ErrorCode, imp.Error, imp.Filename,
		opts, totals, warnings, imp.RowsRead, imp.Created, null(imp.CommitOwner), t.t(imp.CreatedAt),
		t.t(imp.PreviewedAt), t.t(imp.CommitStartedAt), t.t(imp.CommittedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert import: %w", err)
	}
	return nil
}

func impJSON(imp *invite.Import) (opts, totals, warnings string, err error) {
	o, err := json.Marshal(imp.Options)
	if err != nil {
		return "", "", "", err
	}
	tt, err := json.Marshal(imp.Totals)
	if err != nil {
		return "", "", "", err
	}
	w := imp.Warnings
	if w == nil {
		w = []string{}
	}
	ww, err := json.Marshal(w)
	if err != nil {
		return "", "", "", err
	}
	return string(o), string(tt), string(ww), nil
}

func (t *tx) Import(ctx context.Context, orgID, id string) (*invite.Import, error) {
	var imp invite.Import
	var status, opts, totals, warnings string
	err := t.q.QueryRowContext(ctx, `SELECT id, org_id, created_by, status, error_code, error, filename, options,
		totals, warnings, rows_read, created_count, commit_owner, created_at, previewed_at, commit_started_at,
		committed_at FROM imports WHERE id = $1 AND org_id = $2`, id, orgID).Scan(&imp.ID, &imp.OrgID,
		ns(&imp.CreatedBy), &status, &imp.ErrorCode, &imp.Error, &imp.Filename, &opts, &totals, &warnings,
		&imp.RowsRead, &imp.Created, ns(&imp.CommitOwner), tc(&imp.CreatedAt), tc(&imp.PreviewedAt),
		tc(&imp.CommitStartedAt), tc(&imp.CommittedAt))
	if err := one(err, "import"); err != nil {
		return nil, err
	}
	imp.Status = invite.ImportStatus(status)
	if err := json.Unmarshal([]byte(opts), &imp.Options); err != nil {
		return nil, fmt.Errorf("sqlstore: import options: %w", err)
	}
	if err := json.Unmarshal([]byte(totals), &imp.Totals); err != nil {
		return nil, fmt.Errorf("sqlstore: import totals: %w", err)
	}
	if err := json.Unmarshal([]byte(warnings), &imp.Warnings); err != nil {
		return nil, fmt.Errorf("sqlstore: import warnings: %w", err)
	}
	return &imp, nil
}

func (t *tx) UpdateImport(ctx context.Context, imp *invite.Import, from invite.ImportStatus, owner string) error {
	opts, totals, warnings, err := impJSON(imp)
	if err != nil {
		return err
	}
	q := `UPDATE imports SET status = $3, error_code = $4, error = $5, options = $6, totals = $7, warnings = $8,
		rows_read = $9, created_count = $10, commit_owner = $11, previewed_at = $12, commit_started_at = $13,
		committed_at = $14 WHERE id = $1 AND status = $2`
	args := []any{imp.ID, string(from), string(imp.Status), imp.ErrorCode, imp.Error, opts, totals, warnings,
		imp.RowsRead, imp.Created, null(imp.CommitOwner), t.t(imp.PreviewedAt), t.t(imp.CommitStartedAt),
		t.t(imp.CommittedAt)}
	if owner != "" {
		q += ` AND commit_owner = $15`
		args = append(args, owner)
	}
	res, err := t.q.ExecContext(ctx, q, args...)
	if err := affected(res, err, invite.ErrConflict); err != nil {
		return fmt.Errorf("sqlstore: update import: %w", err)
	}
	if t.d == Postgres && imp.Status == invite.ImportPreviewed && from == invite.ImportProcessing {
		// Bulk-loaded tables need fresh statistics (PostgreSQL's advice
		// after a bulk load): with the ones autovacuum has not caught up
		// on, the planner reads a 100,000-row batch with a sequential scan
		// and a sort for every chunk the commit asks for.
		if _, err := t.q.ExecContext(ctx, `ANALYZE import_rows`); err != nil {
			return fmt.Errorf("sqlstore: analyze import rows: %w", err)
		}
	}
	return nil
}

func (t *tx) StaleImports(ctx context.Context, before time.Time, limit int) ([]*invite.Import, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT id, org_id FROM imports WHERE status = 'processing'
		AND created_at < $1 ORDER BY created_at LIMIT `+strconv.Itoa(limit), t.t(before))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stale imports: %w", err)
	}
	type key struct{ id, org string }
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.id, &k.org); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlstore: stale imports: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: stale imports: %w", err)
	}
	out := make([]*invite.Import, 0, len(keys))
	for _, k := range keys {
		imp, err := t.Import(ctx, k.org, k.id)
		if err != nil {
			return nil, err
		}
		out = append(out, imp)
	}
	return out, nil
}

func (t *tx) SetImportProgress(ctx context.Context, id string, rowsRead int) error {
	res, err := t.q.ExecContext(ctx, `UPDATE imports SET rows_read = $2 WHERE id = $1 AND status = 'processing'`, id, rowsRead)
	if err := affected(res, err, invite.ErrConflict); err != nil {
		return fmt.Errorf("sqlstore: import progress: %w", err)
	}
	return nil
}

const impRowCols = `line, email, first_name, last_name, language, role, groups, admin, is_admin, outcome, detail, invitation_id`

func (t *tx) InsertImportRows(ctx context.Context, importID string, rows []invite.ImportRow) error {
	err := t.impInsert(ctx, `INSERT INTO import_rows (import_id, `+impRowCols+`, token_nonce, token_hash, search, first_seen)`, 17,
		len(rows), func(i int, a []any) []any {
			r := &rows[i]
			var admin, search any
			if r.Admin != nil {
				admin = *r.Admin
			}
			if r.TokenHash != "" {
				// The search text the invitation will have, computed as
				// for every other invitation (CreateImportInvitations
				// copies it).
				search = searchText(&invite.Invitation{Email: r.Email, FirstName: r.FirstName, LastName: r.LastName})
			}
			return append(a, importID, r.Line, r.Email, r.FirstName, r.LastName, r.Language, r.Role, impGroups(r.Groups),
				admin, r.IsAdmin, r.Outcome, r.Detail, null(r.InvitationID), null(r.TokenNonce), null(r.TokenHash), search,
				r.FirstSeen)
		})
	if err != nil {
		return fmt.Errorf("sqlstore: insert import rows: %w", err)
	}
	return nil
}

// impGroups keeps a row's group names as a JSON array ("" for none).
func impGroups(g []string) string {
	if len(g) == 0 {
		return ""
	}
	b, _ := json.Marshal(g)
	return string(b)
}

func (t *tx) DeleteImportRows(ctx context.Context, importID string) error {
	if _, err := t.q.ExecContext(ctx, `DELETE FROM import_rows WHERE import_id = $1`, importID); err != nil {
		return fmt.Errorf("sqlstore: delete import rows: %w", err)
	}
	return nil
}

// impOutcomeFilter appends "AND outcome IN (…)" for outcomes.
func impOutcomeFilter(where string, args []any, outcomes []string) (string, []any) {
	if len(outcomes) == 0 {
		return where, args
	}
	where += ` AND outcome IN (` + placeholders(len(args)+1, len(outcomes)) + `)`
	for _, o := range outcomes {
		args = append(args, o)
	}
	return where, args
}

func (t *tx) ImportRows(ctx context.Context, f invite.ImportRowFilter) ([]invite.ImportRow, error) {
	where, args := impOutcomeFilter(`WHERE import_id = $1 AND line > $2`, []any{f.ImportID, f.AfterLine}, f.Outcomes)
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	return t.impRows(ctx, `SELECT `+impRowCols+`, token_hash IS NOT NULL FROM import_rows `+where+
		` ORDER BY line LIMIT `+strconv.Itoa(limit), limit, args...)
}

// impRows runs a query of impRowCols and whether a token is planned.
func (t *tx) impRows(ctx context.Context, q string, limit int, args ...any) ([]invite.ImportRow, error) {
	rows, err := t.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: import rows: %w", err)
	}
	defer rows.Close()
	out := make([]invite.ImportRow, 0, min(limit, 500))
	for rows.Next() {
		var r invite.ImportRow
		var groups string
		var admin sql.NullBool
		if err := rows.Scan(&r.Line, &r.Email, &r.FirstName, &r.LastName, &r.Language, &r.Role, &groups, &admin,
			&r.IsAdmin, &r.Outcome, &r.Detail, ns(&r.InvitationID), &r.Planned); err != nil {
			return nil, fmt.Errorf("sqlstore: import rows: %w", err)
		}
		if groups != "" {
			if err := json.Unmarshal([]byte(groups), &r.Groups); err != nil {
				return nil, fmt.Errorf("sqlstore: import row groups: %w", err)
			}
		}
		if admin.Valid {
			v := admin.Bool
			r.Admin = &v
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) CountImportRows(ctx context.Context, importID string, outcomes []string) (int, error) {
	where, args := impOutcomeFilter(`WHERE import_id = $1`, []any{importID}, outcomes)
	var n int
	if err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM import_rows `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlstore: count import rows: %w", err)
	}
	return n, nil
}

// SetImportRowResults updates many rows in one statement per chunk, with
// CASE on the row number: portable, where UPDATE … FROM (VALUES …) is not
// quite.
func (t *tx) SetImportRowResults(ctx context.Context, importID string, rows []invite.ImportRow) error {
	per := impRowsPer(7)
	for start := 0; start < len(rows); start += per {
		part := rows[start:min(len(rows), start+per)]
		a := &impArgs{d: t.d}
		var q strings.Builder
		q.WriteString(`UPDATE import_rows SET outcome = CASE line`)
		for _, r := range part {
			q.WriteString(" WHEN " + a.add(r.Line) + " THEN " + a.add(r.Outcome))
		}
		q.WriteString(` END, detail = CASE line`)
		for _, r := range part {
			q.WriteString(" WHEN " + a.add(r.Line) + " THEN " + a.add(r.Detail))
		}
		q.WriteString(` END, invitation_id = CASE line`)
		for _, r := range part {
			q.WriteString(" WHEN " + a.add(r.Line) + " THEN " + a.add(null(r.InvitationID)))
		}
		q.WriteString(` END WHERE import_id = ` + a.add(importID) + ` AND line IN (`)
		for i, r := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(a.add(r.Line))
		}
		q.WriteString(")")
		if _, err := t.q.ExecContext(ctx, q.String(), a.args...); err != nil {
			return fmt.Errorf("sqlstore: import row results: %w", err)
		}
	}
	return nil
}

func (t *tx) EmailStates(ctx context.Context, orgID string, emails []string) (map[string]invite.EmailState, error) {
	out := make(map[string]invite.EmailState)
	per := impMaxParams / 2
	for start := 0; start < len(emails); start += per {
		part := emails[start:min(len(emails), start+per)]
		a := &impArgs{d: t.d}
		org := a.add(orgID)
		var in strings.Builder
		if t.d == Postgres {
			// One array parameter rather than hundreds.
			in.WriteString("SELECT unnest(" + a.add(part) + "::text[])")
		} else {
			for i, e := range part {
				if i > 0 {
					in.WriteString(", ")
				}
				in.WriteString(a.add(e))
			}
		}
		args := a.args
		rows, err := t.q.QueryContext(ctx, `SELECT u.email, u.id, EXISTS (SELECT 1 FROM memberships m
			WHERE m.org_id = `+org+` AND m.user_id = u.id) FROM users u WHERE u.email IN (`+in.String()+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: email states: %w", err)
		}
		for rows.Next() {
			var email string
			var st invite.EmailState
			if err := rows.Scan(&email, &st.UserID, &st.Member); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlstore: email states: %w", err)
			}
			out[email] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: email states: %w", err)
		}
		// No status filter in SQL: without one, SQLite looks the
		// addresses up by (org_id, email); with one, it may scan the
		// organization's invitations by status instead.
		q := `SELECT email, id, status, expires_at FROM invitations WHERE org_id = ` + org +
			` AND email IN (` + in.String() + `)`
		if t.d == Postgres {
			// A commit looks addresses up in invitations while filling
			// it, and the planner's statistics still describe the table
			// as it was (often nearly empty): it then fetches all of the
			// organization's invitations for every chunk, which makes a
			// commit quadratic. A lateral subquery with a LIMIT (which the
			// planner cannot flatten into a hash join) looks each address
			// up by itself on the unique index of live invitations,
			// whatever the statistics say.
			q = `SELECT i.email, i.id, i.status, i.expires_at FROM unnest($2::text[]) AS e (email)
				CROSS JOIN LATERAL (SELECT email, id, status, expires_at FROM invitations
				WHERE org_id = ` + org + ` AND email = e.email
				AND status IN ('draft', 'pending', 'awaiting_approval') LIMIT 1) i`
		}
		rows, err = t.q.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: email states: %w", err)
		}
		for rows.Next() {
			var inv invite.Invitation
			var status string
			if err := rows.Scan(&inv.Email, &inv.ID, &status, tc(&inv.ExpiresAt)); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlstore: email states: %w", err)
			}
			inv.Status = invite.Status(status)
			if !inv.Status.Live() {
				continue
			}
			st := out[inv.Email]
			st.Live = &inv
			out[inv.Email] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: email states: %w", err)
		}
	}
	return out, nil
}

const impInvCols = `id, org_id, email, first_name, last_name, username, language, role, admin, message, status,
	inviter_id, source, import_id, created_at, updated_at, sent_at, send_count, expires_at, accepted_at,
	accepted_user_id, delivery_status, token_hash, token_nonce, search, version`

func (t *tx) InsertInvitations(ctx context.Context, invs []*invite.Invitation) (map[string]bool, error) {
	const ncols = 26
	per := impRowsPer(ncols)
	skipped := map[string]bool{}
	args := make([]any, 0, per*ncols)
	for start := 0; start < len(invs); start += per {
		part := invs[start:min(len(invs), start+per)]
		args = args[:0]
		for _, inv := range part {
			inv.Version = 1
			args = append(args, inv.ID, inv.OrgID, inv.Email, inv.FirstName, inv.LastName, inv.Username,
				inv.Language, inv.Role, inv.Admin, inv.Message, string(inv.Status), null(inv.InviterID), inv.Source,
				null(inv.ImportID), t.t(inv.CreatedAt), t.t(inv.UpdatedAt), t.t(inv.SentAt), inv.SendCount,
				t.t(inv.ExpiresAt), t.t(inv.AcceptedAt), null(inv.AcceptedUserID), inv.DeliveryStatus,
				null(inv.TokenHash), null(inv.TokenNonce), searchText(inv), 1)
		}
		rows, err := t.impQuery(ctx, `INSERT INTO invitations (`+impInvCols+`) VALUES `+
			impValues(t.d, 1, ncols, len(part))+` ON CONFLICT DO NOTHING RETURNING id`, len(part) == per, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: insert invitations: %w", err)
		}
		inserted := make(map[string]bool, len(part))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlstore: insert invitations: %w", err)
			}
			inserted[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlstore: insert invitations: %w", err)
		}
		for _, inv := range part {
			if !inserted[inv.ID] {
				skipped[inv.ID] = true
			}
		}
	}
	// The current token's hash lives on the invitation row;
	// invitation_tokens keeps only superseded ones.
	type link struct{ inv, group string }
	var links []link
	for _, inv := range invs {
		if skipped[inv.ID] {
			continue
		}
		for _, g := range inv.GroupIDs {
			links = append(links, link{inv.ID, g})
		}
	}
	if err := t.impInsert(ctx, `INSERT INTO invitation_groups (invitation_id, group_id)`, 2, len(links),
		func(i int, a []any) []any { return append(a, links[i].inv, links[i].group) }); err != nil {
		return nil, fmt.Errorf("sqlstore: invitation groups: %w", err)
	}
	return skipped, nil
}

func (t *tx) AddEvents(ctx context.Context, events []*invite.Event) error {
	err := t.impInsert(ctx, `INSERT INTO invitation_events (id, invitation_id, org_id, at, type, from_status,
		to_status, actor_id, actor, detail)`, 10, len(events), func(i int, a []any) []any {
		e := events[i]
		return append(a, e.ID, e.InvitationID, e.OrgID, t.t(e.At), e.Type, string(e.From), string(e.To),
			null(e.ActorID), e.Actor, e.Detail)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: add events: %w", err)
	}
	return t.hookEvents(ctx, events...)
}

func (t *tx) EnqueueEmails(ctx context.Context, emails []*invite.Email) error {
	err := t.impInsert(ctx, `INSERT INTO outbox (id, org_id, kind, invitation_id, user_id, recipient, data,
		created_at, due_at)`, 9, len(emails), func(i int, a []any) []any {
		e := emails[i]
		data := "{}"
		if len(e.Data) > 0 {
			data = string(e.Data)
		}
		return append(a, e.ID, e.OrgID, e.Kind, null(e.InvitationID), null(e.UserID), e.To, data,
			t.t(e.DueAt), t.t(e.DueAt))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: enqueue emails: %w", err)
	}
	return nil
}

// BeginBulk keeps the bulk write's repeated statements prepared until end.
// SQLite keeps its default page cache (2 MB): a 64 MB cache for the
// commit was measured at 100,000 rows to be no faster (commits of
// 4.4–5.7 s with the default against 5.2–5.7 s, in alternating runs) and
// to cost some 170 MB more resident memory, outside Go's heap.
func (t *tx) BeginBulk(ctx context.Context) (context.Context, func() error, error) {
	cache := &impStmts{stmts: map[string]*sql.Stmt{}}
	if p, ok := t.q.(impPreparer); ok {
		cache.prep = p
	}
	ctx = context.WithValue(ctx, impStmtsKey{}, cache)
	return ctx, func() error {
		var err error
		for _, st := range cache.stmts {
			err = errors.Join(err, st.Close())
		}
		return err
	}, nil
}

// impStmts keeps the statements of a bulk write prepared, by text: the
// full-chunk INSERTs repeat hundreds of times, and preparing a statement
// of thousands of parameters costs about as much as running it.
type impStmts struct {
	prep  impPreparer
	stmts map[string]*sql.Stmt
}

type impStmtsKey struct{}

type impPreparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// impExec runs q, through a prepared statement when a bulk write is on
// and the statement is a full chunk (it will be seen again).
func (t *tx) impExec(ctx context.Context, q string, full bool, args ...any) error {
	if st := t.impStmt(ctx, q, full); st != nil {
		_, err := st.ExecContext(ctx, args...)
		return err
	}
	_, err := t.q.ExecContext(ctx, q, args...)
	return err
}

func (t *tx) impQuery(ctx context.Context, q string, full bool, args ...any) (*sql.Rows, error) {
	if st := t.impStmt(ctx, q, full); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, q, args...)
}

func (t *tx) impStmt(ctx context.Context, q string, full bool) *sql.Stmt {
	c, ok := ctx.Value(impStmtsKey{}).(*impStmts)
	if !ok || c.prep == nil || !full {
		return nil
	}
	if st := c.stmts[q]; st != nil {
		return st
	}
	st, err := c.prep.PrepareContext(ctx, q)
	if err != nil {
		return nil // the plain path will report the error
	}
	c.stmts[q] = st
	return st
}
