package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

const userCols = `id, email, username, first_name, last_name, language, password_hash, instance_admin, created_at`

func scanUser(row interface{ Scan(...any) error }) (*account.User, error) {
	var u account.User
	err := row.Scan(&u.ID, &u.Email, &u.Username, &u.FirstName, &u.LastName, &u.Language, &u.PasswordHash, &u.InstanceAdmin, tc(&u.CreatedAt))
	return &u, err
}

func (t *tx) userBy(ctx context.Context, col, v string) (*account.User, error) {
	u, err := scanUser(t.q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE `+col+` = $1`, v))
	if err := one(err, "user by "+col); err != nil {
		return nil, err
	}
	return u, nil
}

func (t *tx) UserByID(ctx context.Context, id string) (*account.User, error) {
	return t.userBy(ctx, "id", id)
}
func (t *tx) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	return t.userBy(ctx, "email", email)
}
func (t *tx) UserByUsername(ctx context.Context, username string) (*account.User, error) {
	return t.userBy(ctx, "username", username)
}

func (t *tx) InsertUser(ctx context.Context, u *account.User) error {
	res, err := t.q.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT DO NOTHING`,
		u.ID, u.Email, u.Username, u.FirstName, u.LastName, u.Language, u.PasswordHash, u.InstanceAdmin, t.t(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert user: %w", err)
	}
	return affected(res, nil, invite.ErrConflict)
}

func (t *tx) UpdateUser(ctx context.Context, u *account.User) error {
	res, err := t.q.ExecContext(ctx, `UPDATE users SET email = $2, username = $3, first_name = $4, last_name = $5,
		language = $6, password_hash = $7, instance_admin = $8 WHERE id = $1`,
		u.ID, u.Email, u.Username, u.FirstName, u.LastName, u.Language, u.PasswordHash, u.InstanceAdmin)
	return affected(res, err, invite.ErrNotFound)
}

func (t *tx) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := t.q.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

func (t *tx) InsertAPIKey(ctx context.Context, k *invite.APIKey) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, user_id, name, prefix, hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.ID, k.OrgID, null(k.UserID), k.Name, k.Prefix, k.Hash, t.t(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert api key: %w", err)
	}
	return nil
}

func (t *tx) APIKeyByHash(ctx context.Context, hash string) (*invite.APIKey, error) {
	var k invite.APIKey
	err := t.q.QueryRowContext(ctx, `SELECT id, org_id, user_id, name, prefix, hash, created_at FROM api_keys
		WHERE hash = $1 AND revoked_at IS NULL`, hash).
		Scan(&k.ID, &k.OrgID, ns(&k.UserID), &k.Name, &k.Prefix, &k.Hash, tc(&k.CreatedAt))
	if err := one(err, "api key"); err != nil {
		return nil, err
	}
	return &k, nil
}

func (t *tx) APIKeys(ctx context.Context, orgID string) ([]invite.APIKey, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT k.id, k.org_id, k.user_id, k.name, k.prefix, k.created_at, COALESCE(u.email, '')
		FROM api_keys k LEFT JOIN users u ON u.id = k.user_id
		WHERE k.org_id = $1 AND k.revoked_at IS NULL ORDER BY k.created_at, k.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: api keys: %w", err)
	}
	defer rows.Close()
	out := []invite.APIKey{}
	for rows.Next() {
		var k invite.APIKey
		if err := rows.Scan(&k.ID, &k.OrgID, ns(&k.UserID), &k.Name, &k.Prefix, tc(&k.CreatedAt), &k.CreatedBy); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (t *tx) RevokeAPIKey(ctx context.Context, orgID, id string, at time.Time) error {
	res, err := t.q.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL`,
		orgID, id, t.t(at))
	return affected(res, err, invite.ErrNotFound)
}

func encodeSettings(s account.Settings) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func decodeSettings(raw string) (account.Settings, error) {
	s := account.DefaultSettings()
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("sqlstore: organization settings: %w", err)
	}
	return s, nil
}

const orgCols = `id, slug, name, personal, settings, created_at`

func scanOrg(row interface{ Scan(...any) error }) (*account.Organization, error) {
	o, _, err := scanOrgSettings(row)
	return o, err
}

// scanOrgSettings is scanOrg, also returning the settings as stored.
func scanOrgSettings(row interface{ Scan(...any) error }) (*account.Organization, string, error) {
	var o account.Organization
	var settings string
	if err := row.Scan(&o.ID, &o.Slug, &o.Name, &o.Personal, &settings, tc(&o.CreatedAt)); err != nil {
		return nil, "", err
	}
	var err error
	o.Settings, err = decodeSettings(settings)
	return &o, settings, err
}

func (t *tx) orgBy(ctx context.Context, col, v string) (*account.Organization, error) {
	var o account.Organization
	var settings string
	var hooks int
	err := t.q.QueryRowContext(ctx, `SELECT `+orgCols+`, webhooks FROM organizations WHERE `+col+` = $1`, v).
		Scan(&o.ID, &o.Slug, &o.Name, &o.Personal, &settings, tc(&o.CreatedAt), &hooks)
	if err := one(err, "organization"); err != nil {
		return nil, err
	}
	if o.Settings, err = decodeSettings(settings); err != nil {
		return nil, err
	}
	t.hookCount(o.ID, hooks)
	t.orgs.put(&o, settings, hooks)
	return &o, nil
}

func (t *tx) OrgByID(ctx context.Context, id string) (*account.Organization, error) {
	return t.orgBy(ctx, "id", id)
}

func (t *tx) OrgBySlug(ctx context.Context, slug string) (*account.Organization, error) {
	return t.orgBy(ctx, "slug", slug)
}

func (t *tx) InsertOrg(ctx context.Context, o *account.Organization) error {
	res, err := t.q.ExecContext(ctx, `INSERT INTO organizations (`+orgCols+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`, o.ID, o.Slug, o.Name, o.Personal, encodeSettings(o.Settings), t.t(o.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert organization: %w", err)
	}
	return affected(res, nil, invite.ErrConflict)
}

func (t *tx) UpdateOrg(ctx context.Context, o *account.Organization) error {
	t.orgs.drop(o.Slug)
	res, err := t.q.ExecContext(ctx, `UPDATE organizations SET name = $2, settings = $3 WHERE id = $1`,
		o.ID, o.Name, encodeSettings(o.Settings))
	return affected(res, err, invite.ErrNotFound)
}

func (t *tx) OrgsOfUser(ctx context.Context, userID string) ([]account.Organization, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT o.id, o.slug, o.name, o.personal, o.settings, o.created_at
		FROM organizations o JOIN memberships m ON m.org_id = o.id
		WHERE m.user_id = $1 AND m.active = TRUE ORDER BY o.personal, lower(o.name)`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: organizations of user: %w", err)
	}
	defer rows.Close()
	var out []account.Organization
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *o)
	}
	return out, rows.Err()
}

func (t *tx) Roles(ctx context.Context, orgID string) ([]account.Role, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT name, permissions, built_in FROM roles WHERE org_id = $1
		ORDER BY built_in DESC, name`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: roles: %w", err)
	}
	defer rows.Close()
	var out []account.Role
	for rows.Next() {
		r := account.Role{Permissions: []account.Permission{}}
		var perms string
		if err := rows.Scan(&r.Name, &perms, &r.BuiltIn); err != nil {
			return nil, err
		}
		for _, p := range strings.Fields(perms) {
			r.Permissions = append(r.Permissions, account.Permission(p))
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) InsertRole(ctx context.Context, orgID string, r account.Role) error {
	perms := make([]string, len(r.Permissions))
	for i, p := range r.Permissions {
		perms[i] = string(p)
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO roles (org_id, name, permissions, built_in) VALUES ($1, $2, $3, $4)`,
		orgID, r.Name, strings.Join(perms, " "), r.BuiltIn)
	if err != nil {
		return fmt.Errorf("sqlstore: insert role: %w", err)
	}
	return nil
}

func (t *tx) DeleteRole(ctx context.Context, orgID, name string) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM roles WHERE org_id = $1 AND name = $2 AND built_in = FALSE`, orgID, name)
	return affected(res, err, invite.ErrNotFound)
}

func (t *tx) RoleUse(ctx context.Context, orgID, name string) (members, invitations int, err error) {
	err = t.q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM memberships WHERE org_id = $1 AND role = $2),
		(SELECT count(*) FROM invitations WHERE org_id = $1 AND role = $2 AND status IN ('draft', 'pending', 'awaiting_approval'))`,
		orgID, name).Scan(&members, &invitations)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlstore: role use: %w", err)
	}
	return members, invitations, nil
}

func (t *tx) Profile(ctx context.Context, orgID, userID string) (*invite.Profile, error) {
	p := &invite.Profile{OrgID: orgID, UserID: userID}
	var updated, verified time.Time
	err := t.q.QueryRowContext(ctx, `SELECT phone, job_title, department, address, updated_at, updated_by, verified_at, verified_by
		FROM profiles WHERE org_id = $1 AND user_id = $2`, orgID, userID).
		Scan(&p.Phone, &p.JobTitle, &p.Department, &p.Address, tc(&updated), &p.UpdatedBy, tc(&verified), &p.VerifiedBy)
	if err := one(err, "profile"); err != nil {
		return nil, err
	}
	if !updated.IsZero() {
		p.UpdatedAt = &updated
	}
	if !verified.IsZero() {
		p.VerifiedAt = &verified
	}
	return p, nil
}

func (t *tx) PutProfile(ctx context.Context, p *invite.Profile) error {
	at := func(v *time.Time) any {
		if v == nil {
			return nil
		}
		return t.t(*v)
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO profiles (org_id, user_id, phone, job_title, department, address,
		updated_at, updated_by, verified_at, verified_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (org_id, user_id) DO UPDATE SET phone = excluded.phone, job_title = excluded.job_title,
		department = excluded.department, address = excluded.address, updated_at = excluded.updated_at,
		updated_by = excluded.updated_by, verified_at = excluded.verified_at, verified_by = excluded.verified_by`,
		p.OrgID, p.UserID, p.Phone, p.JobTitle, p.Department, p.Address, at(p.UpdatedAt), p.UpdatedBy, at(p.VerifiedAt), p.VerifiedBy)
	if err != nil {
		return fmt.Errorf("sqlstore: put profile: %w", err)
	}
	return nil
}

func (t *tx) Groups(ctx context.Context, orgID string) ([]account.Group, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT id, org_id, name, created_at FROM groups WHERE org_id = $1 ORDER BY name_key`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: groups: %w", err)
	}
	defer rows.Close()
	var out []account.Group
	for rows.Next() {
		var g account.Group
		if err := rows.Scan(&g.ID, &g.OrgID, &g.Name, tc(&g.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

func (t *tx) InsertGroup(ctx context.Context, g *account.Group) error {
	res, err := t.q.ExecContext(ctx, `INSERT INTO groups (id, org_id, name, name_key, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, g.ID, g.OrgID, g.Name, strings.ToLower(g.Name), t.t(g.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: insert group: %w", err)
	}
	return affected(res, nil, invite.ErrConflict)
}

func (t *tx) DeleteGroup(ctx context.Context, orgID, id string) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM groups WHERE org_id = $1 AND id = $2`, orgID, id)
	return affected(res, err, invite.ErrNotFound)
}

func (t *tx) Membership(ctx context.Context, orgID, userID string) (*account.Membership, error) {
	var m account.Membership
	err := t.q.QueryRowContext(ctx, `SELECT org_id, user_id, role, admin, active, created_at FROM memberships
		WHERE org_id = $1 AND user_id = $2`, orgID, userID).
		Scan(&m.OrgID, &m.UserID, &m.Role, &m.Admin, &m.Active, tc(&m.CreatedAt))
	if err := one(err, "membership"); err != nil {
		return nil, err
	}
	rows, err := t.q.QueryContext(ctx, `SELECT group_id FROM membership_groups WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: membership groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		m.GroupIDs = append(m.GroupIDs, id)
	}
	return &m, rows.Err()
}

func (t *tx) PutMembership(ctx context.Context, m *account.Membership) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, admin, active, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, admin = excluded.admin, active = excluded.active`,
		m.OrgID, m.UserID, m.Role, m.Admin, m.Active, t.t(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlstore: put membership: %w", err)
	}
	if _, err := t.q.ExecContext(ctx, `DELETE FROM membership_groups WHERE org_id = $1 AND user_id = $2`, m.OrgID, m.UserID); err != nil {
		return fmt.Errorf("sqlstore: put membership groups: %w", err)
	}
	for _, g := range m.GroupIDs {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO membership_groups (org_id, user_id, group_id) VALUES ($1, $2, $3)`,
			m.OrgID, m.UserID, g); err != nil {
			return fmt.Errorf("sqlstore: put membership groups: %w", err)
		}
	}
	return nil
}

func (t *tx) DeleteMembership(ctx context.Context, orgID, userID string) error {
	res, err := t.q.ExecContext(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	return affected(res, err, invite.ErrNotFound)
}

func (t *tx) Members(ctx context.Context, orgID string) ([]account.Member, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT m.org_id, m.user_id, m.role, m.admin, m.active, m.created_at,
		u.id, u.email, u.username, u.first_name, u.last_name, u.language, u.password_hash, u.instance_admin, u.created_at
		FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: members: %w", err)
	}
	var out []account.Member
	index := map[string]int{}
	for rows.Next() {
		var m account.Member
		u := &m.User
		if err := rows.Scan(&m.OrgID, &m.UserID, &m.Role, &m.Admin, &m.Active, tc(&m.CreatedAt),
			&u.ID, &u.Email, &u.Username, &u.FirstName, &u.LastName, &u.Language, &u.PasswordHash, &u.InstanceAdmin, tc(&u.CreatedAt)); err != nil {
			rows.Close()
			return nil, err
		}
		u.PasswordHash = ""
		index[m.UserID] = len(out)
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	grows, err := t.q.QueryContext(ctx, `SELECT mg.user_id, g.id, g.name FROM membership_groups mg
		JOIN groups g ON g.id = mg.group_id WHERE mg.org_id = $1 ORDER BY g.name_key`, orgID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: member groups: %w", err)
	}
	defer grows.Close()
	for grows.Next() {
		var uid, gid, name string
		if err := grows.Scan(&uid, &gid, &name); err != nil {
			return nil, err
		}
		if i, ok := index[uid]; ok {
			out[i].GroupIDs = append(out[i].GroupIDs, gid)
			out[i].Groups = append(out[i].Groups, name)
		}
	}
	return out, grows.Err()
}

func (t *tx) UsersWithPermission(ctx context.Context, orgID string, perm account.Permission) ([]account.User, error) {
	roles, err := t.Roles(ctx, orgID)
	if err != nil {
		return nil, err
	}
	granting := []any{orgID}
	for _, r := range roles {
		if r.Has(perm) {
			granting = append(granting, r.Name)
		}
	}
	q := `SELECT u.id, u.email, u.username, u.first_name, u.last_name, u.language, u.password_hash, u.instance_admin, u.created_at
		FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 AND m.active = TRUE AND (m.admin = TRUE`
	if len(granting) > 1 {
		q += ` OR m.role IN (` + placeholders(2, len(granting)-1) + `)`
	}
	rows, err := t.q.QueryContext(ctx, q+`) ORDER BY u.email`, granting...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: users with permission: %w", err)
	}
	defer rows.Close()
	var out []account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

var _ scanner = (*sql.Row)(nil)
