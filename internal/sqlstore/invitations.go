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

	"github.com/jackc/pgx/v5"

	"usher/internal/account"
	"usher/internal/invite"
)

// invCols are the invitation columns in scan order, aliased "i", with the
// inviter's public fields from "u".
const invCols = `i.id, i.org_id, i.email, i.first_name, i.last_name, i.username, i.language, i.role, i.admin,
	i.message, i.status, i.inviter_id, i.source, i.import_id, i.created_at, i.updated_at, i.sent_at, i.send_count,
	i.expires_at, i.reminded_steps, i.accepted_at, i.accepted_user_id, i.external_user_id, i.decided_at, i.decided_by,
	i.revoked_at, i.delivery_status, i.delivery_error, i.delivered_at, i.redirect_url, i.metadata, i.token_hash,
	i.token_nonce, i.version, u.email, u.first_name, u.last_name`

const invFrom = ` FROM invitations i LEFT JOIN users u ON u.id = i.inviter_id `

func scanInvitation(row scanner) (*invite.Invitation, error) {
	var inv invite.Invitation
	var status, metadata string
	var ue, uf, ul string
	err := row.Scan(&inv.ID, &inv.OrgID, &inv.Email, &inv.FirstName, &inv.LastName, &inv.Username, &inv.Language,
		&inv.Role, &inv.Admin, &inv.Message, &status, ns(&inv.InviterID), &inv.Source, ns(&inv.ImportID),
		tc(&inv.CreatedAt), tc(&inv.UpdatedAt), tc(&inv.SentAt), &inv.SendCount, tc(&inv.ExpiresAt), &inv.RemindedSteps,
		tc(&inv.AcceptedAt), ns(&inv.AcceptedUserID), ns(&inv.ExternalUserID), tc(&inv.DecidedAt), ns(&inv.DecidedBy),
		tc(&inv.RevokedAt), &inv.DeliveryStatus, &inv.DeliveryError, tc(&inv.DeliveredAt), &inv.RedirectURL, &metadata,
		ns(&inv.TokenHash), ns(&inv.TokenNonce), &inv.Version, ns(&ue), ns(&uf), ns(&ul))
	if err != nil {
		return nil, err
	}
	inv.Status = invite.Status(status)
	inv.Metadata = json.RawMessage(metadata)
	if inv.InviterID != "" {
		inv.Inviter = invite.Person{ID: inv.InviterID, Email: ue, Name: account.DisplayName(uf, ul, ue)}
	}
	return &inv, nil
}

// searchText is what a list search matches: email and names, lowercased.
func searchText(inv *invite.Invitation) string {
	return strings.ToLower(inv.Email + " " + inv.FirstName + " " + inv.LastName)
}

func metadataText(m json.RawMessage) string {
	if len(m) == 0 {
		return "{}"
	}
	return string(m)
}

// invitationCols are the columns an invitation is inserted with, bound to
// $1…$39 in this order (invitationArgs).
const invitationCols = `id, org_id, email, first_name, last_name, username,
	language, role, admin, message, status, inviter_id, source, import_id, created_at, updated_at, sent_at,
	send_count, expires_at, reminded_steps, accepted_at, accepted_user_id, external_user_id, decided_at, decided_by,
	revoked_at, delivery_status, delivery_error, delivered_at, redirect_url, metadata, token_hash, token_nonce,
	search, mail_due, created_by_id, created_by, created_status, created_detail, version`

// invitationParams is how many parameters invitationCols take.
const invitationParams = 39

// insertInvitation inserts an invitation unless the organization has a
// live one for the email (a no-op then).
const insertInvitation = `INSERT INTO invitations (` + invitationCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
	$23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, 1)
	ON CONFLICT DO NOTHING`

// insertNewInvitation is insertInvitation, a no-op too when an account
// has the email. PostgreSQL does not infer the types of parameters in a
// SELECT list: the columns that are not text say theirs.
var insertNewInvitation = map[Dialect]string{
	SQLite: newInvitationSQL(nil),
	Postgres: newInvitationSQL(map[int]string{9: "boolean", 18: "integer", 20: "integer",
		15: "timestamptz", 16: "timestamptz", 17: "timestamptz", 19: "timestamptz", 21: "timestamptz",
		24: "timestamptz", 26: "timestamptz", 29: "timestamptz", 35: "timestamptz"}),
}

// guardedNewInvitation is insertNewInvitation, a no-op too unless the
// organization ($2) still has the slug and settings given after the
// invitation's parameters: what a create checked against its remembered
// organization (orgcache.go).
var guardedNewInvitation = map[Dialect]string{
	SQLite:   guardedSQL(insertNewInvitation[SQLite]),
	Postgres: guardedSQL(insertNewInvitation[Postgres]),
}

func guardedSQL(q string) string {
	orgOK := fmt.Sprintf(` AND EXISTS (SELECT 1 FROM organizations WHERE id = $2 AND slug = $%d AND settings = $%d AND webhooks = 0)`,
		invitationParams+1, invitationParams+2)
	return strings.Replace(q, " ON CONFLICT", orgOK+" ON CONFLICT", 1)
}

func newInvitationSQL(casts map[int]string) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO invitations (` + invitationCols + `) SELECT `)
	for i := 1; i <= invitationParams; i++ {
		fmt.Fprintf(&b, "$%d", i)
		if c := casts[i]; c != "" {
			b.WriteString("::" + c)
		}
		b.WriteString(", ")
	}
	b.WriteString(`1 WHERE NOT EXISTS (SELECT 1 FROM users WHERE email = $3) ON CONFLICT DO NOTHING`)
	return b.String()
}

// invitationArgs are inv's values for invitationCols; mailDue is when its
// email is due (zero: none; see mailOnRow), created its created event when
// that is recorded on the row (nil: none; see eventOnRow).
func (t *tx) invitationArgs(inv *invite.Invitation, mailDue time.Time, created *invite.Event) []any {
	var byID, by, status, detail any
	if created != nil {
		byID, by, status, detail = null(created.ActorID), created.Actor, string(created.To), created.Detail
	}
	args := make([]any, 0, invitationParams+2) // room for a guarded create's two
	return append(args, inv.ID, inv.OrgID, inv.Email, inv.FirstName, inv.LastName, inv.Username, inv.Language, inv.Role, inv.Admin,
		inv.Message, string(inv.Status), null(inv.InviterID), inv.Source, null(inv.ImportID), t.t(inv.CreatedAt),
		t.t(inv.UpdatedAt), t.t(inv.SentAt), inv.SendCount, t.t(inv.ExpiresAt), inv.RemindedSteps, t.t(inv.AcceptedAt),
		null(inv.AcceptedUserID), null(inv.ExternalUserID), t.t(inv.DecidedAt), null(inv.DecidedBy), t.t(inv.RevokedAt),
		inv.DeliveryStatus, inv.DeliveryError, t.t(inv.DeliveredAt), inv.RedirectURL, metadataText(inv.Metadata),
		null(inv.TokenHash), null(inv.TokenNonce), searchText(inv), t.t(mailDue), byID, by, status, detail)
}

// mailOnRow tells whether mail, due with inv's creation, is recorded on
// the invitation row (mail_due, migration 00006) rather than as an outbox
// row: an invitation's own invitation email always is.
func mailOnRow(inv *invite.Invitation, mail *invite.Email) bool {
	return mail != nil && mail.Kind == invite.MailInvitation && mail.InvitationID == inv.ID &&
		mail.UserID == "" && len(mail.Data) == 0 && mail.To == inv.Email
}

// eventOnRow tells whether ev, written with inv's creation, is recorded on
// the invitation row (created_by, migration 00007) rather than in
// invitation_events: an invitation's own created event, at its creation,
// always is. Its id is then the invitation's.
func eventOnRow(inv *invite.Invitation, ev *invite.Event) bool {
	return ev != nil && ev.Type == "created" && ev.InvitationID == inv.ID && ev.OrgID == inv.OrgID &&
		ev.From == "" && ev.At.Equal(inv.CreatedAt)
}

func (t *tx) InsertInvitation(ctx context.Context, inv *invite.Invitation) error {
	return t.insertInvitation(ctx, inv, insertInvitation, t.invitationArgs(inv, time.Time{}, nil))
}

// insertInvitation runs q, an insert of inv over args, and writes inv's
// groups; it answers invite.ErrConflict when q wrote nothing.
func (t *tx) insertInvitation(ctx context.Context, inv *invite.Invitation, q string, args []any) error {
	inv.Version = 1
	res, err := t.q.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: insert invitation: %w", err)
	}
	if err := affected(res, nil, invite.ErrConflict); err != nil {
		return err
	}
	return t.setInvitationGroups(ctx, inv.ID, inv.GroupIDs, false)
}

func (t *tx) CreateInvitation(ctx context.Context, inv *invite.Invitation, ev *invite.Event, mail *invite.Email, newEmail bool) error {
	return t.createInvitation(ctx, inv, ev, mail, newEmail, nil)
}

// createInvitation is CreateInvitation, also guarded by the organization
// as cached (orgcache.go) when org is not nil.
func (t *tx) createInvitation(ctx context.Context, inv *invite.Invitation, ev *invite.Event, mail *invite.Email, newEmail bool, org *cachedOrg) error {
	q := insertInvitation
	if newEmail {
		q = insertNewInvitation[t.d]
	}
	var mailDue time.Time
	if mailOnRow(inv, mail) {
		mailDue, mail = mail.DueAt, nil
	}
	var created *invite.Event
	if eventOnRow(inv, ev) {
		ev.ID = inv.ID // the row's event is known by the invitation's id
		created, ev = ev, nil
	}
	args := t.invitationArgs(inv, mailDue, created)
	if org != nil {
		if !newEmail {
			return errors.New("sqlstore: a guarded create is for an address without an account")
		}
		q = guardedNewInvitation[t.d]
		args = append(args, org.org.Slug, org.settings)
	}
	// One plain statement on both engines (on PostgreSQL a WITH returning
	// why nothing was written costs a tenth more on every create); why is
	// asked only when nothing was.
	err := t.insertInvitation(ctx, inv, q, args)
	if errors.Is(err, invite.ErrConflict) && newEmail {
		return t.whyNotInserted(ctx, inv.Email, org)
	}
	if err != nil {
		return err
	}
	if created != nil && org == nil {
		// (A guarded create is for an organization without endpoints.)
		if err := t.hookEvents(ctx, created); err != nil {
			return err
		}
	}
	// What the row does not hold is written beside it.
	if ev != nil {
		if err := t.AddEvent(ctx, ev); err != nil {
			return err
		}
	}
	if mail == nil {
		return nil
	}
	return t.EnqueueEmail(ctx, mail)
}

// whyNotInserted tells, for an insert of a new address's invitation that
// wrote nothing, a changed organization (org, when the insert was guarded
// by it) from an account with the email from a live invitation.
func (t *tx) whyNotInserted(ctx context.Context, email string, org *cachedOrg) error {
	q, args := `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1), TRUE`, []any{email}
	if org != nil {
		q = `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1),
			EXISTS (SELECT 1 FROM organizations WHERE id = $2 AND slug = $3 AND settings = $4 AND webhooks = 0)`
		args = append(args, org.org.ID, org.org.Slug, org.settings)
	}
	var user, orgSame bool
	if err := t.q.QueryRowContext(ctx, q, args...).Scan(&user, &orgSame); err != nil {
		return fmt.Errorf("sqlstore: users: %w", err)
	}
	switch {
	case !orgSame:
		return errOrgChanged
	case user:
		return invite.ErrUserExists
	}
	return invite.ErrConflict
}

func (t *tx) setInvitationGroups(ctx context.Context, id string, groupIDs []string, replace bool) error {
	if replace {
		if _, err := t.q.ExecContext(ctx, `DELETE FROM invitation_groups WHERE invitation_id = $1`, id); err != nil {
			return fmt.Errorf("sqlstore: invitation groups: %w", err)
		}
	}
	for _, g := range groupIDs {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO invitation_groups (invitation_id, group_id) VALUES ($1, $2)`, id, g); err != nil {
			return fmt.Errorf("sqlstore: invitation groups: %w", err)
		}
	}
	return nil
}

func (t *tx) UpdateInvitation(ctx context.Context, inv *invite.Invitation) error {
	res, err := t.q.ExecContext(ctx, `UPDATE invitations SET first_name = $3, last_name = $4, username = $5,
		language = $6, role = $7, admin = $8, message = $9, status = $10, updated_at = $11, sent_at = $12,
		send_count = $13, expires_at = $14, reminded_steps = $15, accepted_at = $16, accepted_user_id = $17,
		external_user_id = $18, decided_at = $19, decided_by = $20, revoked_at = $21, delivery_status = $22,
		delivery_error = $23, delivered_at = $24, token_hash = $25, token_nonce = $26, search = $27,
		version = version + 1
		WHERE id = $1 AND version = $2`,
		inv.ID, inv.Version, inv.FirstName, inv.LastName, inv.Username, inv.Language, inv.Role, inv.Admin, inv.Message,
		string(inv.Status), t.t(inv.UpdatedAt), t.t(inv.SentAt), inv.SendCount, t.t(inv.ExpiresAt), inv.RemindedSteps,
		t.t(inv.AcceptedAt), null(inv.AcceptedUserID), null(inv.ExternalUserID), t.t(inv.DecidedAt), null(inv.DecidedBy),
		t.t(inv.RevokedAt), inv.DeliveryStatus, inv.DeliveryError, t.t(inv.DeliveredAt), null(inv.TokenHash),
		null(inv.TokenNonce), searchText(inv))
	if err := affected(res, err, invite.ErrConflict); err != nil {
		return fmt.Errorf("sqlstore: update invitation: %w", err)
	}
	inv.Version++
	return t.setInvitationGroups(ctx, inv.ID, inv.GroupIDs, true)
}

func (t *tx) Invitation(ctx context.Context, orgID, id string) (*invite.Invitation, error) {
	inv, err := scanInvitation(t.q.QueryRowContext(ctx, `SELECT `+invCols+invFrom+`WHERE i.id = $1 AND i.org_id = $2`, id, orgID))
	if err := one(err, "invitation"); err != nil {
		return nil, err
	}
	return inv, t.fillGroups(ctx, []*invite.Invitation{inv})
}

func (t *tx) InvitationByTokenHash(ctx context.Context, hash string) (*invite.Invitation, bool, error) {
	inv, err := scanInvitation(t.q.QueryRowContext(ctx, `SELECT `+invCols+invFrom+`WHERE i.token_hash = $1`, hash))
	current := true
	if errors.Is(err, sql.ErrNoRows) {
		// Not a live link: perhaps one replaced by a newer link.
		current = false
		inv, err = scanInvitation(t.q.QueryRowContext(ctx, `SELECT `+invCols+invFrom+`
			JOIN invitation_tokens k ON k.invitation_id = i.id WHERE k.hash = $1`, hash))
	}
	if err := one(err, "invitation by token"); err != nil {
		return nil, false, err
	}
	return inv, current, t.fillGroups(ctx, []*invite.Invitation{inv})
}

func (t *tx) AddTokenHash(ctx context.Context, hash, invitationID string, at time.Time) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO invitation_tokens (hash, invitation_id, created_at) VALUES ($1, $2, $3)`,
		hash, invitationID, t.t(at))
	if err != nil {
		return fmt.Errorf("sqlstore: add token: %w", err)
	}
	return nil
}

func (t *tx) LiveInvitation(ctx context.Context, orgID, email string) (*invite.Invitation, error) {
	inv, err := scanInvitation(t.q.QueryRowContext(ctx, `SELECT `+invCols+invFrom+`WHERE i.org_id = $1 AND i.email = $2
		AND i.status IN ('draft', 'pending', 'awaiting_approval')`, orgID, email))
	if err := one(err, "live invitation"); err != nil {
		return nil, err
	}
	return inv, t.fillGroups(ctx, []*invite.Invitation{inv})
}

// fillGroups loads the group ids and names of invs in one query.
func (t *tx) fillGroups(ctx context.Context, invs []*invite.Invitation) error {
	if len(invs) == 0 {
		return nil
	}
	args := make([]any, len(invs))
	byID := make(map[string]*invite.Invitation, len(invs))
	for i, inv := range invs {
		args[i] = inv.ID
		byID[inv.ID] = inv
		inv.GroupIDs, inv.Groups = nil, nil
	}
	rows, err := t.q.QueryContext(ctx, `SELECT ig.invitation_id, g.id, g.name FROM invitation_groups ig
		JOIN groups g ON g.id = ig.group_id WHERE ig.invitation_id IN (`+placeholders(1, len(args))+`) ORDER BY g.name_key`, args...)
	if err != nil {
		return fmt.Errorf("sqlstore: invitation groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var iid, gid, name string
		if err := rows.Scan(&iid, &gid, &name); err != nil {
			return err
		}
		inv := byID[iid]
		inv.GroupIDs = append(inv.GroupIDs, gid)
		inv.Groups = append(inv.Groups, name)
	}
	return rows.Err()
}

// sortColumns maps a list sort to its column; the id breaks ties, which
// makes the keyset cursor exact.
var sortColumns = map[string]string{"created_at": "i.created_at", "email": "i.email", "expires_at": "i.expires_at"}

func (t *tx) ListInvitations(ctx context.Context, f invite.ListFilter) (*invite.Page, error) {
	desc := strings.HasPrefix(f.Sort, "-")
	col, ok := sortColumns[strings.TrimPrefix(f.Sort, "-")]
	if !ok {
		col, desc = "i.created_at", true
	}
	args := []any{f.OrgID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{"i.org_id = $1"}
	if len(f.Statuses) > 0 {
		var ors []string
		now := ""
		nowArg := func() string {
			if now == "" {
				now = arg(t.t(f.Now))
			}
			return now
		}
		for _, s := range f.Statuses {
			switch s {
			case invite.StatusPending:
				ors = append(ors, "(i.status = 'pending' AND i.expires_at > "+nowArg()+")")
			case invite.StatusExpired:
				ors = append(ors, "i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= "+nowArg()+")")
			default:
				ors = append(ors, "i.status = "+arg(string(s)))
			}
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		pred, err := t.searchPredicate(ctx, q, arg)
		if err != nil {
			return nil, err
		}
		where = append(where, pred)
	}
	if f.ImportID != "" {
		where = append(where, "i.import_id = "+arg(f.ImportID))
	}
	filter := strings.Join(where, " AND ")
	// Counting every match of a large organization would cost more than
	// the page itself: the count stops at CountCap.
	page := &invite.Page{}
	if err := t.q.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM invitations i WHERE %s LIMIT %d) c`,
		filter, invite.CountCap+1), t.planned(args)...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("sqlstore: count invitations: %w", err)
	}
	if page.Total > invite.CountCap {
		page.Total, page.TotalCapped = invite.CountCap, true
	}
	dir, cmp := "ASC", ">"
	if desc {
		dir, cmp = "DESC", "<"
	}
	if f.After != nil {
		var key any = f.After.Key
		if col != "i.email" {
			at, err := time.Parse(time.RFC3339Nano, f.After.Key)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: bad cursor: %w", err)
			}
			key = t.t(at)
		}
		filter += fmt.Sprintf(" AND (%s, i.id) %s (%s, %s)", col, cmp, arg(key), arg(f.After.ID))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := t.q.QueryContext(ctx, `SELECT `+invCols+invFrom+`WHERE `+filter+
		fmt.Sprintf(" ORDER BY %s %s, i.id %s LIMIT %d", col, dir, dir, limit+1), t.planned(args)...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list invitations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		key := last.Email
		switch col {
		case "i.created_at":
			key = last.CreatedAt.Format(time.RFC3339Nano)
		case "i.expires_at":
			key = last.ExpiresAt.Format(time.RFC3339Nano)
		}
		page.Next = &invite.Cursor{Key: key, ID: last.ID}
	}
	return page, t.fillGroups(ctx, page.Items)
}

// planned marks a query's arguments for planning with their values. pgx
// prepares and caches statements, and after a few runs PostgreSQL may
// switch a cached statement to a generic plan, which cannot see that a
// search pattern is selective and walks the table instead of using the
// trigram index. Lists run as unnamed statements, planned every time;
// other statements keep their cached plans.
func (t *tx) planned(args []any) []any {
	if t.d != Postgres {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (t *tx) listWhere(ctx context.Context, where string, args ...any) ([]*invite.Invitation, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT `+invCols+invFrom+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: invitations: %w", err)
	}
	defer rows.Close()
	var out []*invite.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, t.fillGroups(ctx, out)
}

func (t *tx) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]*invite.Invitation, error) {
	return t.listWhere(ctx, fmt.Sprintf(`WHERE i.status = 'pending' AND i.expires_at <= $1 ORDER BY i.expires_at LIMIT %d`, limit), t.t(now))
}

func (t *tx) DueForReminder(ctx context.Context, now time.Time, minAge time.Duration, limit int, afterID string) ([]*invite.Invitation, error) {
	return t.listWhere(ctx, fmt.Sprintf(`WHERE i.status = 'pending' AND i.expires_at > $1 AND i.send_count > 0
		AND i.sent_at <= $2 AND i.id > $3 ORDER BY i.id LIMIT %d`, limit), t.t(now), t.t(now.Add(-minAge)), afterID)
}

func (t *tx) AddEvent(ctx context.Context, e *invite.Event) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO invitation_events (id, invitation_id, org_id, at, type, from_status,
		to_status, actor_id, actor, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, e.InvitationID, e.OrgID, t.t(e.At), e.Type, string(e.From), string(e.To), null(e.ActorID), e.Actor, e.Detail)
	if err != nil {
		return fmt.Errorf("sqlstore: add event: %w", err)
	}
	return t.hookEvents(ctx, e)
}

func (t *tx) Events(ctx context.Context, invitationID string) ([]invite.Event, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT id, invitation_id, org_id, at, type, from_status, to_status, actor_id,
		actor, detail FROM invitation_events WHERE invitation_id = $1
		UNION ALL
		SELECT id, id, org_id, created_at, 'created', '', created_status, created_by_id, created_by, created_detail
		FROM invitations WHERE id = $1 AND created_by IS NOT NULL
		ORDER BY 4, 1`, invitationID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: events: %w", err)
	}
	defer rows.Close()
	var out []invite.Event
	for rows.Next() {
		var e invite.Event
		var from, to string
		if err := rows.Scan(&e.ID, &e.InvitationID, &e.OrgID, tc(&e.At), &e.Type, &from, &to, ns(&e.ActorID), &e.Actor, &e.Detail); err != nil {
			return nil, err
		}
		e.From, e.To = invite.Status(from), invite.Status(to)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) AddAudit(ctx context.Context, a *invite.AuditEntry) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO audit_log (id, org_id, at, actor_id, actor, action, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.ID, a.OrgID, t.t(a.At), null(a.ActorID), a.Actor, a.Action, a.Target, a.Detail)
	if err != nil {
		return fmt.Errorf("sqlstore: add audit: %w", err)
	}
	return nil
}

// Audit lists administrative actions and invitation transitions together,
// newest first (ids are time-ordered). Each of the three sources (the
// log, the events table, the created events on invitation rows) gives at
// most limit entries by its own index, and those are merged.
func (t *tx) Audit(ctx context.Context, orgID string, limit int, before string) ([]invite.AuditEntry, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	if before == "" {
		before = "~" // sorts after every id
	}
	rows, err := t.q.QueryContext(ctx, strings.ReplaceAll(`SELECT id, at, actor, action, target, detail FROM (
		SELECT * FROM (SELECT id, at, actor, action, target, detail FROM audit_log
			WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT {n}) l
		UNION ALL
		SELECT * FROM (SELECT e.id, e.at, e.actor, 'invitation.' || e.type AS action, i.email AS target,
			e.from_status || ' → ' || e.to_status AS detail
			FROM invitation_events e JOIN invitations i ON i.id = e.invitation_id
			WHERE e.org_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT {n}) e
		UNION ALL
		SELECT * FROM (SELECT id, created_at AS at, created_by AS actor, 'invitation.created' AS action, email AS target,
			' → ' || created_status AS detail FROM invitations
			WHERE org_id = $1 AND id < $2 AND created_by IS NOT NULL ORDER BY id DESC LIMIT {n}) c
		) a ORDER BY id DESC LIMIT {n}`, "{n}", strconv.Itoa(limit)), orgID, before)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: audit: %w", err)
	}
	defer rows.Close()
	var out []invite.AuditEntry
	for rows.Next() {
		var a invite.AuditEntry
		if err := rows.Scan(&a.ID, tc(&a.At), &a.Actor, &a.Action, &a.Target, &a.Detail); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ftsDriven is how many trigram-index matches a search may have for the
// index to drive the query on SQLite; a commoner term reads faster by
// walking the sort order and testing each row, which stops at one page.
const ftsDriven = 2000

// searchPredicate is the WHERE term that finds q in the email or names.
// PostgreSQL's planner uses its trigram index for LIKE by itself (and
// escapes with a backslash by default). On SQLite, for three characters
// or more, the FTS5 trigram index finds the rows holding every trigram of
// q (it keeps no positions: migration 00008), and LIKE confirms them; its
// own LIKE support would not use the index with an ESCAPE clause. A quick
// capped count of the index's matches chooses between letting it drive
// and walking the rows.
func (t *tx) searchPredicate(ctx context.Context, q string, arg func(any) string) (string, error) {
	pattern := "%" + escapeLike(q) + "%"
	if t.d == Postgres {
		return `i.search LIKE ` + arg(pattern), nil
	}
	if match := trigrams(q); match != "" {
		var n int
		err := t.q.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM invitations_search
			WHERE invitations_search MATCH $1 LIMIT %d)`, ftsDriven+1), match).Scan(&n)
		if err != nil {
			return "", fmt.Errorf("sqlstore: search: %w", err)
		}
		if n <= ftsDriven {
			return `i.seq IN (SELECT rowid FROM invitations_search WHERE invitations_search MATCH ` + arg(match) +
				`) AND i.search LIKE ` + arg(pattern) + ` ESCAPE '\'`, nil
		}
	}
	return `i.search LIKE ` + arg(pattern) + ` ESCAPE '\'`, nil
}

// trigrams is the FTS5 query for rows holding trigrams of q that cover
// it: every third one and the last, each a quoted string (the index folds
// case as it did when indexing). The overlapping ones would only narrow
// the candidates further, at the cost of reading their rows; LIKE decides.
// It is "" when q has fewer than three characters.
func trigrams(q string) string {
	r := []rune(q)
	if len(r) < 3 {
		return ""
	}
	var at []int
	for i := 0; i+3 <= len(r); i += 3 {
		at = append(at, i)
	}
	if last := len(r) - 3; at[len(at)-1] != last {
		at = append(at, last)
	}
	seen := map[string]bool{}
	var b strings.Builder
	for _, i := range at {
		g := string(r[i : i+3])
		if seen[g] {
			continue
		}
		seen[g] = true
		if b.Len() > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(`"` + strings.ReplaceAll(g, `"`, `""`) + `"`)
	}
	return b.String()
}
