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

// CheckRoleName returns why name cannot name a custom role ("" if it can):
// 2 to 32 characters of a–z, 0–9, ".", "_" and "-", starting with a
// letter, and not a built-in role's name.
func CheckRoleName(name string) string {
	if name == RoleOwner || name == RoleAdmin || name == RoleMember {
		return "is a built-in role"
	}
	if len(name) < 2 || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return "must be 2 to 32 characters, starting with a letter a–z"
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "may contain only a–z, 0–9, dot, underscore and hyphen"
		}
	}
	return ""
}
