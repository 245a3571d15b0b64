package account

import "slices"

// Permission is one right inside an organization.
type Permission string

// The permissions of product.md §2.
const (
	PermInvite         Permission = "invitations.create"
	PermBulkInvite     Permission = "invitations.bulk"
	PermManageInvites  Permission = "invitations.manage"
	PermApprove        Permission = "invitations.approve"
	PermManageMembers  Permission = "members.manage"
	PermManageSettings Permission = "settings.manage"
)

// AllPermissions lists every permission, in display order.
var AllPermissions = []Permission{
	PermInvite, PermBulkInvite, PermManageInvites, PermApprove, PermManageMembers, PermManageSettings,
}

// ValidPermission reports whether p is a known permission.
func ValidPermission(p Permission) bool { return slices.Contains(AllPermissions, p) }

// Built-in role names.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Role is a named set of permissions in an organization.
type Role struct {
	Name        string       `json:"name"`
	Permissions []Permission `json:"permissions"`
	BuiltIn     bool         `json:"built_in"`
}

// BuiltInRoles are the roles every organization has.
func BuiltInRoles() []Role {
	return []Role{
		{Name: RoleOwner, Permissions: slices.Clone(AllPermissions), BuiltIn: true},
		{Name: RoleAdmin, Permissions: slices.Clone(AllPermissions), BuiltIn: true},
		{Name: RoleMember, Permissions: nil, BuiltIn: true},
	}
}

// Has reports whether the role grants p.
func (r Role) Has(p Permission) bool { return slices.Contains(r.Permissions, p) }
