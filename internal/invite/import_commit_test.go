package invite_test

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"usher/internal/account"
	"usher/internal/bulk"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestImportCommitRechecks: what changed between preview and commit
// decides the rows it touches, and every other row is created as
// previewed.
func TestImportCommitRechecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		db := b.store.DB()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(b.ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`INSERT INTO roles (org_id, name, permissions, built_in) SELECT org_id, 'Reviewer', permissions, FALSE
			FROM roles WHERE org_id = $1 AND name = 'member'`, b.org.ID)
		sales := must[*account.Group](t)(b.svc.CreateGroup(b.ctx, b.owner, b.org.Slug, "Sales"))
		for _, g := range []string{"Support", "Ops"} {
			must[*account.Group](t)(b.svc.CreateGroup(b.ctx, b.owner, b.org.Slug, g))
		}
		// Invited before the preview, expired by the commit's time: no
		// obstacle at preview, recorded expired at commit.
		old := b.invite(t, "expired@example.com", invite.Options{ExpiresIn: time.Hour})
		b.clock.Advance(2 * time.Hour)

		imp := b.preview(t, b.org.Slug, strings.Join([]string{
			"email,first_name,last_name,language,groups,admin,role",
			"plain@example.com,Émile,Zola,nl_be,support; Ops,yes,",
			"registers@example.com,,,,,,",
			"invited@example.com,,,,,,",
			"reviewer@example.com,,,,,,reviewer",
			"sales@example.com,,,,Sales,,",
			"renamed@example.com,,,,Neighborhood A,,",
			"expired@example.com,,,,,,",
			"member@example.com,,,,,,",
		}, "\n"), bulk.Limits{}, invite.ImportOptions{SendEmail: true, Message: "Hello"})
		for l, r := range b.rows(t, b.org.Slug, imp.ID) {
			if r.Outcome != "ok" {
				t.Fatalf("row %d previewed %s, want every row ok", l, outcome(r))
			}
		}

		// Between preview and commit:
		must[*account.User](t)(b.svc.CreateUser(b.ctx, "registers@example.com", "correct horse battery", false))
		b.invite(t, "invited@example.com", invite.Options{})
		exec(`DELETE FROM roles WHERE org_id = $1 AND name = 'Reviewer'`, b.org.ID)
		if err := b.svc.DeleteGroup(b.ctx, b.owner, b.org.Slug, sales.ID); err != nil {
			t.Fatal(err)
		}
		exec(`UPDATE groups SET name = 'NEIGHBORHOOD A' WHERE id = $1`, b.group.ID)
		must[*account.User](t)(b.svc.CreateUser(b.ctx, "member@example.com", "correct horse battery", false))
		must[*account.Organization](t)(b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error {
			s.AddExistingUsers = true
			return nil
		}))
		b.invite(t, "member@example.com", invite.Options{}) // added directly
		must[*account.Organization](t)(b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error {
			s.AddExistingUsers = false
			return nil
		}))
		b.outbox(t) // the invitations sent meanwhile

		done := b.commit(t, b.org.Slug, imp.ID)
		rows := b.rows(t, b.org.Slug, imp.ID)
		want := map[int]string{
			2: "ok",
			3: "existing_user: has an account: will be invited to sign in and accept",
			4: "already_invited: already has an open invitation (pending)",
			5: `invalid_value: invalid value for role: "Reviewer" is not a role of this organization`,
			6: `unknown_group: unknown group "Sales"`,
			7: "ok",
			8: "ok",
			9: "already_member: already a member of this organization",
		}
		for l, w := range want {
			if got := outcome(rows[l]); got != w {
				t.Errorf("row %d = %q, want %q", l, got, w)
			}
			if made := rows[l].InvitationID != ""; made != (l == 2 || l == 3 || l == 7 || l == 8) {
				t.Errorf("row %d (%s): invitation id %q", l, rows[l].Outcome, rows[l].InvitationID)
			}
		}
		if done.Created != 4 {
			t.Errorf("created %d invitations, want 4", done.Created)
		}
		wantTotals := map[string]int{"ok": 3, "existing_user": 1, "already_invited": 1, "invalid_value": 1,
			"unknown_group": 1, "already_member": 1, "duplicate": 0, "invalid_email": 0}
		if diff := cmp.Diff(wantTotals, done.Totals); diff != "" {
			t.Errorf("totals (-want +got):\n%s", diff)
		}

		// The plain row, created set-based, is an invitation like any.
		inv := must[*invite.Invitation](t)(b.svc.Get(b.ctx, b.owner, b.org.Slug, rows[2].InvitationID))
		now := b.clock.Now()
		if inv.Status != invite.StatusPending || inv.Email != "plain@example.com" || inv.FirstName != "Émile" ||
			inv.Language != "nl-BE" || !inv.Admin || inv.Role != account.RoleMember || inv.Message != "Hello" ||
			inv.Source != invite.SourceImport || inv.ImportID != imp.ID || inv.InviterID != b.owner.UserID ||
			inv.DeliveryStatus != invite.DeliveryQueued || inv.SendCount != 1 || !inv.CreatedAt.Equal(now) ||
			!inv.ExpiresAt.After(now) || inv.TokenHash == "" {
			t.Errorf("plain invitation = %+v", inv)
		}
		if got := slices.Sorted(slices.Values(inv.Groups)); !slices.Equal(got, []string{"Ops", "Support"}) {
			t.Errorf("plain invitation groups = %q, want Ops and Support", got)
		}
		info, err := b.svc.Lookup(b.ctx, token(t, b.svc.CurrentLink(inv)))
		if err != nil || info.Invitation.ID != inv.ID {
			t.Errorf("Lookup(the plain invitation's link) = %v, %v", info, err)
		}
		events := must[[]invite.Event](t)(b.svc.Events(b.ctx, b.owner, b.org.Slug, inv.ID))
		if len(events) != 1 || events[0].Type != "created" || events[0].To != invite.StatusPending ||
			events[0].Actor != b.owner.Email || events[0].Detail != "import "+imp.ID {
			t.Errorf("plain invitation events = %+v", events)
		}
		page := must[*invite.Page](t)(b.svc.List(b.ctx, b.owner, b.org.Slug, invite.ListFilter{Query: "émile"}))
		if len(page.Items) != 1 || page.Items[0].ID != inv.ID {
			t.Errorf("search for émile = %v, want the plain invitation", page.Items)
		}
		// The renamed group's row went the other way, with the same result.
		renamed := must[*invite.Invitation](t)(b.svc.Get(b.ctx, b.owner, b.org.Slug, rows[7].InvitationID))
		if !slices.Equal(renamed.Groups, []string{"NEIGHBORHOOD A"}) || renamed.Status != invite.StatusPending {
			t.Errorf("renamed-group invitation = %+v", renamed)
		}
		got := must[*invite.Invitation](t)(b.svc.Get(b.ctx, b.owner, b.org.Slug, old.Invitation.ID))
		if got.Status != invite.StatusExpired {
			t.Errorf("the expired invitation is %s, want expired", got.Status)
		}
		if got := kinds(b.outbox(t)); !slices.Equal(slices.Sorted(slices.Values(got)), []string{
			"invitation:expired@example.com", "invitation:plain@example.com", "invitation:registers@example.com",
			"invitation:renamed@example.com"}) {
			t.Errorf("emails = %q", got)
		}
	})
}

// TestImportCommitSetBasedMatchesRowByRow imports one file into two
// organizations: one commit creates the invitations set-based, the other,
// whose rows have no token planned (as a batch previewed before tokens
// were planned), one by one from Go. Every stored column of the
// invitations, their events, emails and groups must come out the same
// (ids and tokens aside).
func TestImportCommitSetBasedMatchesRowByRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		beta := must[*account.Organization](t)(b.svc.CreateOrg(b.ctx, "Beta", "beta", b.owner.Email))
		for _, slug := range []string{b.org.Slug, beta.Slug} {
			for _, g := range []string{"Sales", "R&D"} {
				must[*account.Group](t)(b.svc.CreateGroup(b.ctx, b.owner, slug, g))
			}
		}
		var csv strings.Builder
		csv.WriteString("email,first_name,last_name,language,groups,admin\n")
		for i := range 1200 {
			groups := []string{"", "Sales", "Sales; R&D", "r&d"}[i%4]
			fmt.Fprintf(&csv, "p%d@Example.com,Ünal%d,O'Brien,%s,\"%s\",%v\n", i, i, []string{"en", "fr", "nl-BE"}[i%3], groups, i%5 == 0)
		}
		opt := invite.ImportOptions{SendEmail: true, Message: "Welcome", Role: "member", Language: "de"}
		setBased := b.preview(t, b.org.Slug, csv.String(), bulk.Limits{}, opt)
		rowByRow := b.preview(t, beta.Slug, csv.String(), bulk.Limits{}, opt)
		db := b.store.DB()
		if _, err := db.ExecContext(b.ctx, `UPDATE import_rows SET token_hash = NULL, token_nonce = NULL WHERE import_id = $1`, rowByRow.ID); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ slug, id string }{{b.org.Slug, setBased.ID}, {beta.Slug, rowByRow.ID}} {
			if done := b.commit(t, c.slug, c.id); done.Created != 1200 {
				t.Fatalf("%s: created %d, want 1200", c.slug, done.Created)
			}
		}
		// The set-based commit leaves each email due on its invitation, for
		// the mail worker to move into the outbox; a claim does that first.
		if _, err := b.store.ClaimEmails(b.ctx, "test", b.clock.Now(), time.Minute, 5000); err != nil {
			t.Fatal(err)
		}
		dump := func(q string, orgID, importID string) []string {
			t.Helper()
			rows, err := db.QueryContext(b.ctx, q, orgID)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			defer rows.Close()
			cols, _ := rows.ColumnTypes()
			var out []string
			for rows.Next() {
				vals := make([]any, len(cols))
				for i := range vals {
					vals[i] = new(sql.NullString)
				}
				if err := rows.Scan(vals...); err != nil {
					t.Fatal(err)
				}
				var line []string
				for i, v := range vals {
					s := v.(*sql.NullString)
					line = append(line, cols[i].Name()+"="+strings.ReplaceAll(fmt.Sprint(s.String, s.Valid), importID, "IMPORT"))
				}
				out = append(out, strings.Join(line, " "))
			}
			return out
		}
		queries := []string{
			`SELECT email, first_name, last_name, username, language, role, admin, message, status,
				inviter_id, source, import_id IS NOT NULL, created_at, updated_at, sent_at, send_count, expires_at,
				reminded_steps, accepted_at, accepted_user_id, external_user_id, decided_at, decided_by, revoked_at,
				delivery_status, delivery_error, delivered_at, redirect_url, metadata, token_hash IS NOT NULL,
				token_nonce IS NOT NULL, length(token_hash), length(token_nonce), search, mail_due, version
				FROM invitations WHERE org_id = $1 AND source = 'import' ORDER BY email`,
			`SELECT i.email, e.at, e.type, e.from_status, e.to_status, e.actor_id, e.actor, e.detail, length(e.id)
				FROM ` + allEvents + ` e JOIN invitations i ON i.id = e.invitation_id
				WHERE e.org_id = $1 AND i.source = 'import' ORDER BY i.email, e.id`,
			`SELECT o.kind, o.recipient, o.user_id, o.data, o.created_at, o.due_at, o.status, o.attempts, length(o.id)
				FROM outbox o JOIN invitations i ON i.id = o.invitation_id
				WHERE o.org_id = $1 AND i.source = 'import' ORDER BY o.recipient`,
			`SELECT i.email, g.name FROM invitation_groups ig JOIN invitations i ON i.id = ig.invitation_id
				JOIN groups g ON g.id = ig.group_id WHERE i.org_id = $1 ORDER BY i.email, g.name`,
		}
		for _, q := range queries {
			a, z := dump(q, b.org.ID, setBased.ID), dump(q, beta.ID, rowByRow.ID)
			if len(a) < 1200 {
				t.Errorf("%d rows from %s", len(a), q)
			}
			if diff := cmp.Diff(z, a); diff != "" {
				t.Errorf("set-based (+) differs from row by row (-) for\n%s\n%s", q, diff)
			}
		}
		// Event and email ids are UUIDv7, distinct, in the order of their
		// invitations' (row order).
		for _, q := range []string{
			`SELECT e.id FROM ` + allEvents + ` e JOIN invitations i ON i.id = e.invitation_id WHERE i.import_id = $1 ORDER BY i.id`,
			`SELECT o.id FROM outbox o JOIN invitations i ON i.id = o.invitation_id WHERE i.import_id = $1 ORDER BY i.id`,
		} {
			rows, err := db.QueryContext(b.ctx, q, setBased.ID)
			if err != nil {
				t.Fatal(err)
			}
			prev, n := "", 0
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				if u, err := uuid.Parse(id); err != nil || u.Version() != 7 || id <= prev {
					t.Fatalf("%s: id %q after %q (%v)", q, id, prev, err)
				}
				prev, n = id, n+1
			}
			rows.Close()
			if n != 1200 {
				t.Errorf("%s: %d ids, want 1200", q, n)
			}
		}
	})
}

// TestImportCommitAllowedDomains: an organization that limits the
// domains it invites after the preview has the commit check every row.
func TestImportCommitAllowedDomains(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		imp := b.preview(t, b.org.Slug, "email\nana@example.com\nbo@other.org\n", bulk.Limits{}, invite.ImportOptions{})
		must[*account.Organization](t)(b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error {
			s.AllowedDomains = []string{"example.com"}
			return nil
		}))
		done := b.commit(t, b.org.Slug, imp.ID)
		rows := b.rows(t, b.org.Slug, imp.ID)
		if got := outcome(rows[3]); got != "invalid_email: this organization only invites addresses at example.com" {
			t.Errorf("row 3 = %q", got)
		}
		if rows[2].Outcome != "ok" || rows[2].InvitationID == "" || done.Created != 1 {
			t.Errorf("row 2 = %+v, created %d; want ana invited alone", rows[2], done.Created)
		}
	})
}

// allEvents are the events of invitation_events and those recorded on
// invitation rows (created_by), as one table.
const allEvents = `(SELECT id, invitation_id, org_id, at, type, from_status, to_status, actor_id, actor, detail
	FROM invitation_events UNION ALL SELECT id, id, org_id, created_at, 'created', '', created_status,
	created_by_id, created_by, created_detail FROM invitations WHERE created_by IS NOT NULL)`
