package invite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"usher/internal/account"
)

// CreateUser makes an account directly (the operator's `usher admin
// create`), checked against the default password policy.
func (s *Service) CreateUser(ctx context.Context, email, password string, instanceAdmin bool) (*account.User, error) {
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return nil, &Error{Code: CodeInvalidEmail, Message: err.Error()}
	}
	if broken := account.PolicyNIST.Check(password); len(broken) > 0 {
		return nil, &Error{Code: CodeWeakPassword, Message: "the password does not meet the policy: " + ruleList(broken)}
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	var u *account.User
	err = s.inTx(ctx, func(tx Tx) error {
		if _, err := tx.UserByEmail(ctx, norm); err == nil {
			return errorf(CodeConflict, "an account for %s exists already", norm)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		username, err := s.freeUsername(ctx, tx, account.UsernameFromEmail(norm))
		if err != nil {
			return err
		}
		u = &account.User{ID: NewID(), Email: norm, Username: username, PasswordHash: hash,
			InstanceAdmin: instanceAdmin, CreatedAt: s.Now()}
		return s.createAccount(ctx, tx, u)
	})
	return u, err
}

// CreateOrg makes an organization owned by the user with ownerEmail.
func (s *Service) CreateOrg(ctx context.Context, name, slug, ownerEmail string) (*account.Organization, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, invalid(fieldErr("name", "invalid", "must be 1 to 100 characters"))
	}
	if slug != "" && account.Slug(slug) != slug {
		return nil, invalid(fieldErr("slug", "invalid", "may contain only a-z, 0-9 and single hyphens"))
	}
	norm, err := account.NormalizeEmail(ownerEmail)
	if err != nil {
		return nil, &Error{Code: CodeInvalidEmail, Message: err.Error()}
	}
	var org *account.Organization
	err = s.inTx(ctx, func(tx Tx) error {
		owner, err := tx.UserByEmail(ctx, norm)
		if errors.Is(err, ErrNotFound) {
			return errorf(CodeNotFound, "no account for %s; create it first", norm)
		}
		if err != nil {
			return err
		}
		org, err = s.newOrg(ctx, tx, name, slug, owner, false)
		return err
	})
	return org, err
}

// newOrg inserts an organization with the built-in roles and owner as its
// owner. An explicit slug must be free; a derived one gets a suffix.
func (s *Service) newOrg(ctx context.Context, tx Tx, name, slug string, owner *account.User, personal bool) (*account.Organization, error) {
	explicit := slug != ""
	base := slug
	if !explicit {
		base = account.Slug(name)
	}
	org := &account.Organization{ID: NewID(), Name: name, Personal: personal, Settings: account.DefaultSettings(), CreatedAt: s.Now()}
	for n := 1; ; n++ {
		org.Slug = base
		if n > 1 {
			org.Slug = account.WithSuffix(base, n)
		}
		_, err := tx.OrgBySlug(ctx, org.Slug)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if explicit {
			return nil, invalid(fieldErr("slug", "taken", fmt.Sprintf("%q is taken", slug)))
		}
	}
	if err := tx.InsertOrg(ctx, org); err != nil {
		return nil, err
	}
	for _, r := range account.BuiltInRoles() {
		if err := tx.InsertRole(ctx, org.ID, r); err != nil {
			return nil, err
		}
	}
	err := tx.PutMembership(ctx, &account.Membership{OrgID: org.ID, UserID: owner.ID, Role: account.RoleOwner,
		Admin: true, Active: true, CreatedAt: s.Now()})
	return org, err
}

// CreateAPIKey makes a key for the organization slug, attributed to the
// organization's owner (or createdBy, if given), and returns the key: it
// is shown once and only its hash is kept.
func (s *Service) CreateAPIKey(ctx context.Context, slug, name string, createdBy Actor) (string, *APIKey, error) {
	if len(name) > 100 {
		return "", nil, invalid(fieldErr("name", "invalid", "at most 100 characters"))
	}
	secret := NewSecret("usk_")
	key := &APIKey{ID: NewID(), Name: name, Prefix: secret[:10], Hash: HashToken(secret), CreatedAt: s.Now()}
	err := s.inTx(ctx, func(tx Tx) error {
		var org *account.Organization
		var err error
		if createdBy == System {
			var owner *account.Member
			if org, owner, err = firstOwner(ctx, tx, slug); err != nil {
				return err
			}
			if owner != nil {
				key.UserID = owner.UserID
			}
		} else {
			if org, err = s.keyAccess(ctx, tx, createdBy, slug); err != nil {
				return err
			}
			key.UserID = createdBy.UserID
		}
		key.OrgID = org.ID
		if err := tx.InsertAPIKey(ctx, key); err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, createdBy, "apikey.create", key.Prefix, name)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, key, nil
}

// APIKeys lists the organization's working API keys (never the keys
// themselves: only their first characters).
func (s *Service) APIKeys(ctx context.Context, actor Actor, slug string) ([]APIKey, error) {
	var keys []APIKey
	err := s.store.View(ctx, func(tx Tx) error {
		org, err := s.keyAccess(ctx, tx, actor, slug)
		if err != nil {
			return err
		}
		keys, err = tx.APIKeys(ctx, org.ID)
		return err
	})
	return keys, err
}

// keyAccess is access for managing API keys: a key can do everything in
// its organization, so only who may do everything there manages them
// (an administrator, or a role with every permission), lest a narrower
// role make itself a key with more.
func (s *Service) keyAccess(ctx context.Context, tx Tx, actor Actor, slug string) (*account.Organization, error) {
	org, err := s.access(ctx, tx, actor, slug, account.PermManageSettings)
	if err != nil || actor.KeyOrgID != "" || actor.InstanceAdmin {
		return org, err
	}
	granted, err := s.permissions(ctx, tx, org.ID, actor.UserID)
	if err != nil {
		return nil, err
	}
	for _, p := range account.AllPermissions {
		if !slices.Contains(granted, p) {
			return nil, errorf(CodeForbidden, "API keys can do everything in the organization: managing them needs every permission (%s is missing)", p)
		}
	}
	return org, nil
}

// RevokeAPIKey stops an API key of the organization from working: at once
// on this instance, within keyCacheTTL on the others.
func (s *Service) RevokeAPIKey(ctx context.Context, actor Actor, slug, id string) error {
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.keyAccess(ctx, tx, actor, slug)
		if err != nil {
			return err
		}
		if err := tx.RevokeAPIKey(ctx, org.ID, id, s.Now()); errors.Is(err, ErrNotFound) {
			return errorf(CodeNotFound, "no such API key")
		} else if err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "apikey.revoke", id, "")
	})
	if err == nil {
		s.keys.Range(func(hash, c any) bool {
			if c.(cachedKey).actor.KeyID == id {
				s.keys.Delete(hash)
			}
			return true
		})
	}
	return err
}

// keyCacheTTL is how long an authenticated API key is remembered, which
// spares two queries on every API call.
const keyCacheTTL = 30 * time.Second

type cachedKey struct {
	actor Actor
	until time.Time
}

// AuthenticateKey returns the actor of an API key.
func (s *Service) AuthenticateKey(ctx context.Context, secret string) (Actor, error) {
	unauthorized := errorf(CodeUnauthorized, "the API key is not valid")
	if !strings.HasPrefix(secret, "usk_") || len(secret) > 100 {
		return Actor{}, unauthorized
	}
	hash := HashToken(secret)
	if c, ok := s.keys.Load(hash); ok && time.Now().Before(c.(cachedKey).until) {
		return c.(cachedKey).actor, nil
	}
	var actor Actor
	err := s.store.View(ctx, func(tx Tx) error {
		key, err := tx.APIKeyByHash(ctx, hash)
		if errors.Is(err, ErrNotFound) {
			return unauthorized
		}
		if err != nil {
			return err
		}
		actor = Actor{UserID: key.UserID, KeyOrgID: key.OrgID, KeyID: key.ID}
		if key.UserID != "" {
			if u, err := tx.UserByID(ctx, key.UserID); err == nil {
				actor.Email, actor.Name = u.Email, u.Name()
			}
		}
		return nil
	})
	if err == nil {
		s.keys.Store(hash, cachedKey{actor: actor, until: time.Now().Add(keyCacheTTL)})
	}
	return actor, err
}

// dummyHash is verified against when no account matches, so that signing
// in takes as long for an unknown email as for a known one.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$2bT4GHK4S3OqC1QXbL8n8xN/9O0sRxG8c9b0Lq2D3wE"

// SignIn checks an email and password. Whether the email has an account
// is not revealed: both failures answer the same.
func (s *Service) SignIn(ctx context.Context, email, password string) (*account.User, error) {
	wrong := &Error{Code: CodeWrongPassword, Message: "the email or password is not right"}
	norm, err := account.NormalizeEmail(email)
	if err != nil || len(password) > 1024 {
		return nil, wrong
	}
	var u *account.User
	err = s.store.View(ctx, func(tx Tx) error {
		u, err = tx.UserByEmail(ctx, norm)
		return err
	})
	hash := dummyHash
	switch {
	case err == nil:
		hash = u.PasswordHash
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	ok, verr := s.hasher.Verify(ctx, hash, password)
	if verr != nil && !errors.Is(verr, account.ErrMalformedHash) {
		return nil, verr
	}
	if err != nil || !ok {
		return nil, wrong
	}
	return u, nil
}

// User returns an account by id.
func (s *Service) User(ctx context.Context, id string) (*account.User, error) {
	var u *account.User
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		u, err = tx.UserByID(ctx, id)
		return err
	})
	return u, err
}

// OperatorFor is the actor of an operator's command-line work in the
// organization slug: full rights there, with the organization's first
// owner recorded as the one acting (the inviter of what it invites).
func (s *Service) OperatorFor(ctx context.Context, slug string) (Actor, error) {
	var actor Actor
	err := s.store.View(ctx, func(tx Tx) error {
		org, owner, err := firstOwner(ctx, tx, slug)
		if err != nil {
			return err
		}
		actor = Actor{KeyOrgID: org.ID}
		if owner != nil {
			actor.UserID, actor.Email = owner.UserID, owner.User.Email
		}
		return nil
	})
	return actor, err
}

// firstOwner returns the organization slug (for operators, without an
// access check) and its first active owner, nil if it has none.
func firstOwner(ctx context.Context, tx Tx, slug string) (*account.Organization, *account.Member, error) {
	org, err := tx.OrgBySlug(ctx, slug)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errorf(CodeNotFound, "no organization %q", slug)
	}
	if err != nil {
		return nil, nil, err
	}
	members, err := tx.Members(ctx, org.ID)
	if err != nil {
		return nil, nil, err
	}
	for i, m := range members {
		if m.Role == account.RoleOwner && m.Active {
			return org, &members[i], nil
		}
	}
	return org, nil, nil
}

// HasUsers reports whether any account exists (first start shows how to
// create the first admin).
func (s *Service) HasUsers(ctx context.Context) (bool, error) {
	var n int
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		n, err = tx.CountUsers(ctx)
		return err
	})
	return n > 0, err
}
