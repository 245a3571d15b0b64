package invite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"usher/internal/account"
)

// RoleStore adds and removes an organization's roles (OrgStore.Roles
// lists them).
type RoleStore interface {
	InsertRole(ctx context.Context, orgID string, r account.Role) error
	// DeleteRole removes a custom role (ErrNotFound: none by that name).
	DeleteRole(ctx context.Context, orgID, name string) error
	// RoleUse counts the memberships and the live invitations that give
	// the role.
	RoleUse(ctx context.Context, orgID, name string) (members, invitations int, err error)
}

// CreateRole adds a custom role with perms to the organization: members
// and invitations may then be given it.
func (s *Service) CreateRole(ctx context.Context, actor Actor, slug, name string, perms []account.Permission) (*account.Role, error) {
	name = strings.TrimSpace(name)
	if why := account.CheckRoleName(name); why != "" {
		return nil, invalid(fieldErr("name", "invalid", why))
	}
	role := &account.Role{Name: name, Permissions: []account.Permission{}}
	for _, p := range perms {
		if !account.ValidPermission(p) {
			return nil, invalid(fieldErr("permissions", "unknown", fmt.Sprintf("no permission %q; the permissions are %s", p,
				strings.Join(permNames(), ", "))))
		}
		if !slices.Contains(role.Permissions, p) {
			role.Permissions = append(role.Permissions, p)
		}
	}
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageSettings)
		if err != nil {
			return err
		}
		roles, err := tx.Roles(ctx, org.ID)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(roles, func(r account.Role) bool { return r.Name == name }) {
			return invalid(fieldErr("name", "taken", fmt.Sprintf("a role %q exists already", name)))
		}
		if len(roles) >= maxRoles {
			return invalid(fieldErr("name", "too_many", fmt.Sprintf("an organization has at most %d roles", maxRoles)))
		}
		if err := tx.InsertRole(ctx, org.ID, *role); err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "role.create", name, strings.Join(permNamesOf(role.Permissions), " "))
	})
	if err != nil {
		return nil, err
	}
	return role, nil
}

// maxRoles bounds an organization's roles, built-in ones included.
const maxRoles = 50

// DeleteRole removes a custom role no member and no open invitation has.
func (s *Service) DeleteRole(ctx context.Context, actor Actor, slug, name string) error {
	return s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageSettings)
		if err != nil {
			return err
		}
		if isBuiltInRole(name) {
			return errorf(CodeInvalidTransition, "the role %s is built in and stays", name)
		}
		members, invs, err := tx.RoleUse(ctx, org.ID, name)
		if err != nil {
			return err
		}
		if members > 0 || invs > 0 {
			return errorf(CodeConflict, "%d members and %d open invitations have the role %s: give them another role first", members, invs, name)
		}
		if err := tx.DeleteRole(ctx, org.ID, name); errors.Is(err, ErrNotFound) {
			return errorf(CodeNotFound, "no such role")
		} else if err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "role.delete", name, "")
	})
}

func permNames() []string { return permNamesOf(account.AllPermissions) }

func permNamesOf(perms []account.Permission) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = string(p)
	}
	return out
}
