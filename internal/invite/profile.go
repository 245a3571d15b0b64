package invite

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"usher/internal/account"
)

// A Profile is a member's personal information in an organization beyond
// the account (seed 003's "digital identity"): filled in by the member or
// by an administrator for them, and marked verified by an administrator.
// Any change takes the verification away.
type Profile struct {
	OrgID      string     `json:"-"`
	UserID     string     `json:"user_id"`
	Email      string     `json:"email"` // the member's (read only)
	Phone      string     `json:"phone"`
	JobTitle   string     `json:"job_title"`
	Department string     `json:"department"`
	Address    string     `json:"address"`
	UpdatedAt  *time.Time `json:"updated_at"` // nil: never filled in
	UpdatedBy  string     `json:"updated_by"`
	VerifiedAt *time.Time `json:"verified_at"`
	VerifiedBy string     `json:"verified_by"`
}

// ProfileFields are what a profile holds.
type ProfileFields struct {
	Phone, JobTitle, Department, Address string
}

// ProfileStore holds profiles.
type ProfileStore interface {
	// Profile returns a member's profile (ErrNotFound: never filled in).
	Profile(ctx context.Context, orgID, userID string) (*Profile, error)
	PutProfile(ctx context.Context, p *Profile) error
}

// MemberProfile returns userID's profile in the organization: the member
// sees their own, and who manages members sees everyone's.
func (s *Service) MemberProfile(ctx context.Context, actor Actor, slug, userID string) (*Profile, error) {
	var p *Profile
	err := s.store.View(ctx, func(tx Tx) error {
		org, err := s.profileAccess(ctx, tx, actor, slug, userID)
		if err != nil {
			return err
		}
		if p, err = profileOf(ctx, tx, org.ID, userID); err != nil {
			return err
		}
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		p.Email = u.Email
		return nil
	})
	return p, err
}

// UpdateProfile writes userID's profile in the organization (the member's
// own, or anyone's for who manages members); a change takes the
// verification away.
func (s *Service) UpdateProfile(ctx context.Context, actor Actor, slug, userID string, f ProfileFields) (*Profile, error) {
	f = ProfileFields{Phone: strings.TrimSpace(f.Phone), JobTitle: strings.TrimSpace(f.JobTitle),
		Department: strings.TrimSpace(f.Department), Address: strings.TrimSpace(f.Address)}
	var errs []account.FieldError
	if why := checkPhone(f.Phone); why != "" {
		errs = append(errs, fieldErr("phone", "invalid", why))
	}
	for field, v := range map[string]string{"job_title": f.JobTitle, "department": f.Department} {
		if why := checkName(v); why != "" {
			errs = append(errs, fieldErr(field, "invalid", why))
		}
	}
	if utf8.RuneCountInString(f.Address) > 500 || strings.ContainsRune(f.Address, 0) {
		errs = append(errs, fieldErr("address", "invalid", "at most 500 characters"))
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	var out *Profile
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.profileAccess(ctx, tx, actor, slug, userID)
		if err != nil {
			return err
		}
		p, err := profileOf(ctx, tx, org.ID, userID)
		if err != nil {
			return err
		}
		if (ProfileFields{p.Phone, p.JobTitle, p.Department, p.Address}) == f && p.UpdatedAt != nil {
			out = p
			return nil
		}
		now := s.Now()
		p.Phone, p.JobTitle, p.Department, p.Address = f.Phone, f.JobTitle, f.Department, f.Address
		p.UpdatedAt, p.UpdatedBy, p.VerifiedAt, p.VerifiedBy = &now, actor.label(), nil, ""
		if err := tx.PutProfile(ctx, p); err != nil {
			return err
		}
		out = p
		return s.audit(ctx, tx, org.ID, actor, "profile.update", userID, "")
	})
	return out, err
}

// VerifyProfile marks a member's filled-in profile verified.
func (s *Service) VerifyProfile(ctx context.Context, actor Actor, slug, userID string) (*Profile, error) {
	var out *Profile
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageMembers)
		if err != nil {
			return err
		}
		p, err := profileOf(ctx, tx, org.ID, userID)
		if err != nil {
			return err
		}
		if p.UpdatedAt == nil {
			return errorf(CodeInvalidTransition, "this profile is not filled in yet: there is nothing to verify")
		}
		now := s.Now()
		p.VerifiedAt, p.VerifiedBy = &now, actor.label()
		if err := tx.PutProfile(ctx, p); err != nil {
			return err
		}
		out = p
		return s.audit(ctx, tx, org.ID, actor, "profile.verify", userID, "")
	})
	return out, err
}

// profileAccess lets a member at their own profile, and who manages
// members at anyone's; userID must be a member.
func (s *Service) profileAccess(ctx context.Context, tx Tx, actor Actor, slug, userID string) (*account.Organization, error) {
	var perms []account.Permission
	if actor.UserID != userID || actor.KeyOrgID != "" {
		perms = []account.Permission{account.PermManageMembers}
	}
	org, err := s.access(ctx, tx, actor, slug, perms...)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Membership(ctx, org.ID, userID); errors.Is(err, ErrNotFound) {
		return nil, errorf(CodeNotFound, "no such member")
	} else if err != nil {
		return nil, err
	}
	return org, nil
}

// profileOf returns the stored profile, or an empty one.
func profileOf(ctx context.Context, tx Tx, orgID, userID string) (*Profile, error) {
	p, err := tx.Profile(ctx, orgID, userID)
	if errors.Is(err, ErrNotFound) {
		return &Profile{OrgID: orgID, UserID: userID}, nil
	}
	return p, err
}

// checkPhone returns why v is not a phone number ("" if it is, or empty).
func checkPhone(v string) string {
	if len(v) > 40 {
		return "at most 40 characters"
	}
	digits := 0
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case strings.ContainsRune("+-() ./", c):
		default:
			return "may contain only digits, spaces and + - ( ) . /"
		}
	}
	if v != "" && digits < 4 {
		return "needs at least 4 digits"
	}
	return ""
}
