package invite

import (
	"context"
	"errors"
	"slices"

	"usher/internal/account"
)

// Granting rights. No one gives a permission they do not hold: inviting
// someone with a role, or with the admin flag, or setting either on a
// member, needs every permission that role or flag grants, and changing
// or removing a member needs every permission the member holds. The
// owner role is given and taken only by an owner. API keys and instance
// administrators hold every permission (a key acts for the organization).

// grantor tells whether its actor may give role, and the admin flag if
// admin, in one organization (see grantorFor).
type grantor func(role account.Role, admin bool) error

// grantorFor returns actor's grantor in org. It reads the actor's
// membership only when asked about a role or flag that grants something.
func (s *Service) grantorFor(ctx context.Context, tx Tx, actor Actor, orgID string) grantor {
	if actor.KeyOrgID != "" || actor.InstanceAdmin || actor.UserID == "" {
		return nil // every permission (a call without a user passed access as the system)
	}
	var loaded bool
	var held []account.Permission
	var owner bool
	return func(role account.Role, admin bool) error {
		want := role.Permissions
		if admin {
			want = account.AllPermissions
		}
		if len(want) == 0 && role.Name != account.RoleOwner {
			return nil
		}
		if !loaded {
			m, err := tx.Membership(ctx, orgID, actor.UserID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			owner = err == nil && m.Active && m.Role == account.RoleOwner
			if held, err = s.permissions(ctx, tx, orgID, actor.UserID); err != nil {
				return err
			}
			loaded = true
		}
		if role.Name == account.RoleOwner && !owner {
			return errorf(CodeForbidden, "only an owner can give or take the owner role")
		}
		for _, p := range want {
			if !slices.Contains(held, p) {
				if admin {
					return errorf(CodeForbidden, "you cannot give or take the admin flag: it grants every permission, and you do not hold %s", p)
				}
				return errorf(CodeForbidden, "you cannot give or take the role %q: it grants %s, which you do not hold", role.Name, p)
			}
		}
		return nil
	}
}

// check runs g (nil: every permission) on role, found in roles by name,
// and the admin flag.
func (g grantor) check(roles []account.Role, role string, admin bool) error {
	if g == nil {
		return nil
	}
	r := account.Role{Name: role}
	for _, x := range roles {
		if x.Name == role {
			r = x
		}
	}
	if err := g(r, false); err != nil {
		return err
	}
	if admin {
		return g(account.Role{}, true)
	}
	return nil
}
