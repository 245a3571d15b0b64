package invite

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"usher/internal/account"
)

// Granting rights. No one gives a permission they do not hold: inviting
// someone with a role, or with the admin flag, or setting either on a
// member, needs every permission that role or flag grants, and changing
// or removing a member needs every permission the member holds. The
// owner role is given and taken only by an owner. API keys and instance
// administrators hold every permission (a key acts for the organization).

// grantor tells what its actor may not give in one organization: the
// role (by its permissions), or the admin flag when admin is set. The
// zero refusal means they may. A nil grantor may give anything.
type grantor func(role account.Role, admin bool) (refusal, error)

// refusal is why a right may not be given: missing is a permission the
// actor lacks ("" for ownership, which only an owner gives).
type refusal struct {
	refused bool
	missing account.Permission
}

// grantorFor returns actor's grantor in org. It reads the actor's
// membership and the roles, once, and only when asked about a role or
// flag that grants something.
func (s *Service) grantorFor(ctx context.Context, tx Tx, actor Actor, orgID string) grantor {
	if actor.KeyOrgID != "" || actor.InstanceAdmin || actor.UserID == "" {
		return nil // every permission (a call without a user passed access as the system)
	}
	var loaded bool
	var held []account.Permission
	var owner bool
	return func(role account.Role, admin bool) (refusal, error) {
		want := role.Permissions
		if admin {
			want = account.AllPermissions
		}
		if len(want) == 0 && role.Name != account.RoleOwner {
			return refusal{}, nil
		}
		if !loaded {
			m, err := tx.Membership(ctx, orgID, actor.UserID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return refusal{}, err
			}
			if err == nil && m.Active {
				roles, err := tx.Roles(ctx, orgID)
				if err != nil {
					return refusal{}, err
				}
				held, owner = permissionsOf(m, roles), m.Role == account.RoleOwner
			}
			loaded = true
		}
		if role.Name == account.RoleOwner && !owner {
			return refusal{refused: true}, nil
		}
		for _, p := range want {
			if !slices.Contains(held, p) {
				return refusal{refused: true, missing: p}, nil
			}
		}
		return refusal{}, nil
	}
}

// refusals runs g on the role named role (looked up in roles) and, with
// admin, on the admin flag; it returns what g refuses, by field.
func (g grantor) refusals(roles []account.Role, role string, admin bool) (map[string]refusal, error) {
	out := map[string]refusal{}
	if g == nil {
		return out, nil
	}
	r := account.Role{Name: role}
	for _, x := range roles {
		if x.Name == role {
			r = x
		}
	}
	why, err := g(r, false)
	if err != nil {
		return nil, err
	}
	if why.refused {
		out["role"] = why
	}
	if admin {
		if why, err = g(account.Role{}, true); err != nil {
			return nil, err
		}
		if why.refused {
			out["admin"] = why
		}
	}
	return out, nil
}

// give checks that g may give role and, with admin, the admin flag: a
// refusal is a validation error on the field, so that a form can say so
// beside the choice.
func (g grantor) give(roles []account.Role, role string, admin bool) error {
	refused, err := g.refusals(roles, role, admin)
	if err != nil || len(refused) == 0 {
		return err
	}
	var errs []account.FieldError
	if why, ok := refused["role"]; ok {
		msg := fmt.Sprintf("%q is not yours to give: it grants %s, which you do not hold", role, why.missing)
		if why.missing == "" {
			msg = fmt.Sprintf("%q is given only by an owner", role)
		}
		errs = append(errs, fieldErr("role", "not_allowed", msg))
	}
	if why, ok := refused["admin"]; ok {
		errs = append(errs, fieldErr("admin", "not_allowed",
			fmt.Sprintf("is not yours to give: it grants every permission, and you do not hold %s", why.missing)))
	}
	return invalid(errs...)
}

// change checks that g may change or remove a member who has role and
// the admin flag admin: they must not hold more than the actor.
func (g grantor) change(roles []account.Role, role string, admin bool) error {
	refused, err := g.refusals(roles, role, admin)
	if err != nil || len(refused) == 0 {
		return err
	}
	why, ok := refused["role"]
	if !ok {
		why = refused["admin"]
	}
	if why.missing == "" {
		return errorf(CodeForbidden, "only an owner can change or remove an owner")
	}
	return errorf(CodeForbidden, "you cannot change or remove this member: they hold %s, which you do not", why.missing)
}
