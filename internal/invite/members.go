package invite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"usher/internal/account"
)

// Members lists the organization's members; with pending, also its live
// invitations, so admins see who is in and who is still on the way. Any
// member sees the members; the invitations need a permission that shows
// invitations.
func (s *Service) Members(ctx context.Context, actor Actor, slug string, pending bool) ([]account.Member, []*Invitation, error) {
	var members []account.Member
	var invs []*Invitation
	err := s.store.View(ctx, func(tx Tx) error {
		perms := []account.Permission(nil)
		if pending {
			perms = readInvitations
		}
		org, err := s.access(ctx, tx, actor, slug, perms...)
		if err != nil {
			return err
		}
		if members, err = tx.Members(ctx, org.ID); err != nil {
			return err
		}
		if !pending {
			return nil
		}
		page, err := tx.ListInvitations(ctx, ListFilter{OrgID: org.ID, Now: s.Now(), Limit: MaxPendingMembers, Sort: "email",
			Statuses: []Status{StatusDraft, StatusPending, StatusAwaitingApproval}})
		if err != nil {
			return err
		}
		invs = page.Items
		return nil
	})
	return members, invs, err
}

// MaxPendingMembers bounds the live invitations Members lists (by email);
// the invitations list pages through all of them.
const MaxPendingMembers = 500

// MemberChange is a change to a membership; nil fields stay.
type MemberChange struct {
	Role   *string
	Groups *[]string
	Admin  *bool
	Active *bool
}

// UpdateMember changes a member's role, groups, admin flag or active flag.
// The last active owner cannot be demoted or deactivated.
func (s *Service) UpdateMember(ctx context.Context, actor Actor, slug, userID string, c MemberChange) (*account.Member, error) {
	var out *account.Member
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageMembers)
		if err != nil {
			return err
		}
		m, err := tx.Membership(ctx, org.ID, userID)
		if errors.Is(err, ErrNotFound) {
			return errorf(CodeNotFound, "no such member")
		}
		if err != nil {
			return err
		}
		oc := &orgContext{org: org}
		if oc.roles, err = tx.Roles(ctx, org.ID); err != nil {
			return err
		}
		if oc.groups, err = tx.Groups(ctx, org.ID); err != nil {
			return err
		}
		wasOwner := m.Role == account.RoleOwner && m.Active
		wasRole, wasAdmin := m.Role, m.Admin
		var errs []account.FieldError
		if c.Role != nil {
			if !oc.hasRole(*c.Role) {
				errs = append(errs, fieldErr("role", "unknown", fmt.Sprintf("no role %q in this organization", *c.Role)))
			}
			m.Role = *c.Role
		}
		if c.Groups != nil {
			m.GroupIDs = m.GroupIDs[:0]
			for _, ref := range *c.Groups {
				g := oc.group(ref)
				if g == nil {
					errs = append(errs, fieldErr("groups", "unknown", fmt.Sprintf("no group %q in this organization", ref)))
					continue
				}
				if !containsStr(m.GroupIDs, g.ID) {
					m.GroupIDs = append(m.GroupIDs, g.ID)
				}
			}
		}
		if c.Admin != nil {
			m.Admin = *c.Admin
		}
		if c.Active != nil {
			m.Active = *c.Active
		}
		if len(errs) > 0 {
			return invalid(errs...)
		}
		// Changing a member needs what they hold, and what they will hold.
		grant := s.grantorFor(ctx, tx, actor, org.ID)
		if err := grant.change(oc.roles, wasRole, wasAdmin); err != nil {
			return err
		}
		if err := grant.give(oc.roles, m.Role, m.Admin); err != nil {
			return err
		}
		if wasOwner && !(m.Role == account.RoleOwner && m.Active) {
			if err := s.keepAnOwner(ctx, tx, org.ID, userID); err != nil {
				return err
			}
		}
		if err := tx.PutMembership(ctx, m); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, org.ID, actor, "member.update", userID, describeChange(c)); err != nil {
			return err
		}
		members, err := tx.Members(ctx, org.ID)
		for i := range members {
			if members[i].UserID == userID {
				out = &members[i]
			}
		}
		return err
	})
	return out, err
}

func describeChange(c MemberChange) string {
	var parts []string
	if c.Role != nil {
		parts = append(parts, "role="+*c.Role)
	}
	if c.Groups != nil {
		parts = append(parts, "groups="+strings.Join(*c.Groups, ";"))
	}
	if c.Admin != nil {
		parts = append(parts, fmt.Sprintf("admin=%t", *c.Admin))
	}
	if c.Active != nil {
		parts = append(parts, fmt.Sprintf("active=%t", *c.Active))
	}
	return strings.Join(parts, " ")
}

// keepAnOwner refuses a change that would leave the organization with no
// active owner besides userID.
func (s *Service) keepAnOwner(ctx context.Context, tx Tx, orgID, userID string) error {
	members, err := tx.Members(ctx, orgID)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.UserID != userID && m.Role == account.RoleOwner && m.Active {
			return nil
		}
	}
	return errorf(CodeInvalidTransition, "an organization needs at least one active owner")
}

// RemoveMember takes a user out of the organization.
func (s *Service) RemoveMember(ctx context.Context, actor Actor, slug, userID string) error {
	return s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageMembers)
		if err != nil {
			return err
		}
		m, err := tx.Membership(ctx, org.ID, userID)
		if errors.Is(err, ErrNotFound) {
			return errorf(CodeNotFound, "no such member")
		}
		if err != nil {
			return err
		}
		roles, err := tx.Roles(ctx, org.ID)
		if err != nil {
			return err
		}
		if err := s.grantorFor(ctx, tx, actor, org.ID).change(roles, m.Role, m.Admin); err != nil {
			return err // removing a member needs what they hold
		}
		if m.Role == account.RoleOwner && m.Active {
			if err := s.keepAnOwner(ctx, tx, org.ID, userID); err != nil {
				return err
			}
		}
		if err := tx.DeleteMembership(ctx, org.ID, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "member.remove", userID, "")
	})
}

// Groups lists the organization's groups.
func (s *Service) Groups(ctx context.Context, actor Actor, slug string) ([]account.Group, error) {
	return read(ctx, s, actor, slug, nil, func(tx Tx, org *account.Organization) ([]account.Group, error) {
		return tx.Groups(ctx, org.ID)
	})
}

// CreateGroup adds a group; names are unique case-insensitively.
func (s *Service) CreateGroup(ctx context.Context, actor Actor, slug, name string) (*account.Group, error) {
	name = strings.TrimSpace(name)
	if msg := checkName(name); msg != "" || name == "" {
		return nil, invalid(fieldErr("name", "invalid", "must be 1 to 100 characters of text"))
	}
	var g *account.Group
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageMembers)
		if err != nil {
			return err
		}
		groups, err := tx.Groups(ctx, org.ID)
		if err != nil {
			return err
		}
		for _, existing := range groups {
			if strings.EqualFold(existing.Name, name) {
				return invalid(fieldErr("name", "taken", fmt.Sprintf("a group %q exists already", existing.Name)))
			}
		}
		g = &account.Group{ID: NewID(), OrgID: org.ID, Name: name, CreatedAt: s.Now()}
		if err := tx.InsertGroup(ctx, g); err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "group.create", g.ID, name)
	})
	return g, err
}

// DeleteGroup removes a group from the organization, its memberships and
// the invitations that would have granted it.
func (s *Service) DeleteGroup(ctx context.Context, actor Actor, slug, id string) error {
	return s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageMembers)
		if err != nil {
			return err
		}
		if err := tx.DeleteGroup(ctx, org.ID, id); errors.Is(err, ErrNotFound) {
			return errorf(CodeNotFound, "no such group")
		} else if err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "group.delete", id, "")
	})
}

// Roles lists the organization's roles.
func (s *Service) Roles(ctx context.Context, actor Actor, slug string) ([]account.Role, error) {
	return read(ctx, s, actor, slug, nil, func(tx Tx, org *account.Organization) ([]account.Role, error) {
		return tx.Roles(ctx, org.ID)
	})
}

// Org returns the organization slug as its members see it.
func (s *Service) Org(ctx context.Context, actor Actor, slug string) (*account.Organization, error) {
	var org *account.Organization
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		org, err = s.access(ctx, tx, actor, slug)
		return err
	})
	return org, err
}

// Orgs lists the organizations a user belongs to.
func (s *Service) Orgs(ctx context.Context, actor Actor) ([]account.Organization, error) {
	var orgs []account.Organization
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		orgs, err = tx.OrgsOfUser(ctx, actor.UserID)
		return err
	})
	return orgs, err
}

// UpdateSettings replaces the organization's settings after validating them.
func (s *Service) UpdateSettings(ctx context.Context, actor Actor, slug string, change func(*account.Settings) error) (*account.Organization, error) {
	var org *account.Organization
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if org, err = s.access(ctx, tx, actor, slug, account.PermManageSettings); err != nil {
			return err
		}
		if err := change(&org.Settings); err != nil {
			return err
		}
		if errs := org.Settings.Validate(); len(errs) > 0 {
			return invalid(errs...)
		}
		if err := tx.UpdateOrg(ctx, org); err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "settings.update", org.Slug, "")
	})
	return org, err
}

// Availability answers "can I invite this address?" before inviting.
type Availability struct {
	Email             string `json:"email"` // free, invited, member, registered
	Username          string `json:"username,omitempty"`
	SuggestedUsername string `json:"suggested_username"`
}

// CheckAvailability tells whether email is free, invited, a member or
// registered, and whether username is free, with a suggestion.
func (s *Service) CheckAvailability(ctx context.Context, actor Actor, slug, email, username string) (*Availability, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, &Error{Code: CodeInvalidEmail, Message: err.Error(), Fields: []account.FieldError{fieldErr("email", CodeInvalidEmail, emailReason(err))}}
	}
	username = strings.ToLower(strings.TrimSpace(username))
	if username != "" {
		if msg := account.CheckUsername(username); msg != "" {
			return nil, invalid(fieldErr("username", "invalid", msg))
		}
	}
	a := &Availability{Email: "free"}
	err = s.store.View(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermInvite)
		if err != nil {
			return err
		}
		u, err := tx.UserByEmail(ctx, norm)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			a.Email = "registered"
			if m, err := tx.Membership(ctx, org.ID, u.ID); err == nil && m != nil {
				a.Email = "member"
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if a.Email != "member" {
			inv, err := tx.LiveInvitation(ctx, org.ID, norm)
			if err == nil && inv.StatusAt(s.Now()) != StatusExpired {
				a.Email = "invited"
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if username != "" {
			a.Username = "free"
			if _, err := tx.UserByUsername(ctx, username); err == nil {
				a.Username = "taken"
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		a.SuggestedUsername, err = s.freeUsername(ctx, tx, account.UsernameFromEmail(norm))
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Audit lists the organization's administrative actions, newest first.
func (s *Service) Audit(ctx context.Context, actor Actor, slug string, limit int, before string) ([]AuditEntry, error) {
	perms := []account.Permission{account.PermManageSettings, account.PermManageMembers}
	return read(ctx, s, actor, slug, perms, func(tx Tx, org *account.Organization) ([]AuditEntry, error) {
		return tx.Audit(ctx, org.ID, limit, before)
	})
}
