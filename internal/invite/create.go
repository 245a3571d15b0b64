package invite

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"usher/internal/account"
)

// Input bounds.
const (
	maxNameLen     = 100
	maxMessageLen  = 2000
	maxMetadataLen = 16 << 10
	maxGroups      = 50
	// MaxBatch is the most addresses one batch invite takes; larger lists
	// go through an import.
	MaxBatch = 1000
)

// Options are what an invitation grants and says, chosen by the inviter.
type Options struct {
	FirstName   string
	LastName    string
	Username    string
	Language    string
	Role        string   // "" = member
	Groups      []string // names or ids
	Admin       bool
	Message     string
	ExpiresIn   time.Duration // 0 = the organization's validity
	RedirectURL string
	Metadata    json.RawMessage
	// NoEmail creates a pending invitation without sending it: the caller
	// delivers the link itself.
	NoEmail bool
	// Draft creates an invitation that is not sent yet.
	Draft bool
	// Inviter is the email of the member to record as inviter (API keys
	// only); "" = the actor.
	Inviter  string
	Source   string
	ImportID string
}

// Created is the answer to creating, sending, resending or linking: the
// invitation and, where a token was issued, its link (shown only now).
type Created struct {
	Invitation *Invitation
	Link       string
	// Outcome is "invited", "resent" or "added" (an existing user made a
	// member at once).
	Outcome string
}

// Batch outcomes (api.md).
const (
	OutcomeInvited        = "invited"
	OutcomeResent         = "resent"
	OutcomeAdded          = "added"
	OutcomeAlreadyInvited = "already_invited"
	OutcomeAlreadyMember  = "already_member"
	OutcomeInvalidEmail   = "invalid_email"
	OutcomeDuplicate      = "duplicate"
	OutcomeNotAllowed     = "domain_not_allowed"
)

// orgContext is what creating invitations in one organization needs,
// resolved once per call.
type orgContext struct {
	org     *account.Organization
	roles   []account.Role
	groups  []account.Group
	inviter Person
	grant   grantor // what the actor may give (nil: anything)
	// For imports (importContext): the roles the actor may not give, and
	// whether the admin flag is one of them.
	withheld      []string
	withheldAdmin bool
}

// resolved are Options checked against the organization.
type resolved struct {
	Options
	groupIDs []string
	validity time.Duration
}

// Invite invites one person into the organization slug.
func (s *Service) Invite(ctx context.Context, actor Actor, slug, email string, opt Options) (*Created, error) {
	if c, ok := s.inviteAlone(ctx, actor, slug, email, opt); ok {
		s.transitioned("", c.Invitation.Status)
		return c, nil
	}
	var out *Created
	var held allowance
	err := s.inTx(ctx, func(tx Tx) error {
		oc, err := s.prepare(ctx, tx, actor, slug, opt, account.PermInvite)
		if err != nil {
			return err
		}
		r, err := oc.resolve(opt)
		if err != nil {
			return err
		}
		norm, err := account.NormalizeEmail(email)
		if err != nil {
			return &Error{Code: CodeInvalidEmail, Message: err.Error(), Fields: []account.FieldError{fieldErr("email", CodeInvalidEmail, emailReason(err))}}
		}
		if err := s.hold(&held, oc.org.ID, 1); err != nil {
			return err
		}
		out, err = s.inviteOne(ctx, tx, actor, oc, norm, r, false)
		return err
	})
	if err != nil {
		s.release(held, 0)
		return nil, err
	}
	s.transitioned("", out.Invitation.Status)
	return out, nil
}

// BatchResult is one address's outcome in a batch invite.
type BatchResult struct {
	Email   string
	Outcome string
	Created *Created
	Err     *Error
}

// InviteMany invites every address of emails with the same options, in
// one transaction; each address gets its own outcome. onExistingResend
// resends a live invitation instead of reporting already_invited.
func (s *Service) InviteMany(ctx context.Context, actor Actor, slug string, emails []string, opt Options, onExistingResend bool) ([]BatchResult, error) {
	if len(emails) == 0 {
		return nil, invalid(fieldErr("emails", "required", "give at least one email address"))
	}
	if len(emails) > MaxBatch {
		return nil, invalid(fieldErr("emails", "too_many", fmt.Sprintf("at most %d addresses at once; import a file for more", MaxBatch)))
	}
	if opt.Username != "" {
		return nil, invalid(fieldErr("username", "invalid", "a username can only be chosen when inviting one person"))
	}
	var results []BatchResult
	var held allowance
	err := s.inTx(ctx, func(tx Tx) error {
		results = results[:0]
		oc, err := s.prepare(ctx, tx, actor, slug, opt, account.PermInvite)
		if err != nil {
			return err
		}
		r, err := oc.resolve(opt)
		if err != nil {
			return err
		}
		if err := s.hold(&held, oc.org.ID, len(emails)); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, raw := range emails {
			res := BatchResult{Email: raw}
			norm, err := account.NormalizeEmail(raw)
			switch {
			case err != nil:
				res.Outcome = OutcomeInvalidEmail
				res.Err = &Error{Code: CodeInvalidEmail, Message: emailReason(err)}
			case seen[norm]:
				res.Email, res.Outcome = norm, OutcomeDuplicate
				res.Err = errorf(OutcomeDuplicate, "listed more than once")
			default:
				seen[norm] = true
				res.Email = norm
				c, err := s.inviteOne(ctx, tx, actor, oc, norm, r, onExistingResend)
				var de *Error
				switch {
				case err == nil:
					res.Outcome, res.Created = c.Outcome, c
				case errors.As(err, &de) && (de.Code == CodeAlreadyInvited || de.Code == CodeAlreadyMember || de.Code == CodeDomainNotAllowed):
					res.Outcome, res.Err = de.Code, de
				default:
					return err
				}
			}
			results = append(results, res)
		}
		return nil
	})
	if err != nil {
		s.release(held, 0)
		return nil, err
	}
	used := 0
	for _, r := range results {
		if r.Created != nil {
			used++
			s.transitioned("", r.Created.Invitation.Status)
		}
	}
	s.release(held, used)
	return results, nil
}

func emailReason(err error) string {
	var ee *account.EmailError
	if errors.As(err, &ee) {
		return ee.Reason
	}
	return err.Error()
}

// prepare checks the actor's right and loads what validating options
// needs: roles only for a custom role, groups only when some are named
// (built-in roles always exist), the inviter only when not the actor.
func (s *Service) prepare(ctx context.Context, tx Tx, actor Actor, slug string, opt Options, perm account.Permission) (*orgContext, error) {
	org, err := s.access(ctx, tx, actor, slug, perm)
	if err != nil {
		return nil, err
	}
	oc := &orgContext{org: org, grant: s.grantorFor(ctx, tx, actor, org.ID)}
	if opt.Role == "" || isBuiltInRole(opt.Role) {
		oc.roles = account.BuiltInRoles()
	} else if oc.roles, err = tx.Roles(ctx, org.ID); err != nil {
		return nil, err
	}
	if len(opt.Groups) > 0 {
		if oc.groups, err = tx.Groups(ctx, org.ID); err != nil {
			return nil, err
		}
	}
	if oc.inviter, err = s.inviter(ctx, tx, actor, org, opt.Inviter); err != nil {
		return nil, err
	}
	return oc, nil
}

func isBuiltInRole(name string) bool {
	return name == account.RoleOwner || name == account.RoleAdmin || name == account.RoleMember
}

// inviter resolves who is recorded as inviting: the actor, or for API keys
// a named member allowed to invite.
func (s *Service) inviter(ctx context.Context, tx Tx, actor Actor, org *account.Organization, email string) (Person, error) {
	if email == "" {
		if actor.UserID == "" || actor.Name != "" {
			return actorPerson(actor), nil
		}
		u, err := tx.UserByID(ctx, actor.UserID)
		if errors.Is(err, ErrNotFound) {
			return Person{}, nil
		}
		if err != nil {
			return Person{}, err
		}
		return Person{ID: u.ID, Email: u.Email, Name: u.Name()}, nil
	}
	bad := invalid(fieldErr("inviter", "invalid", "must be the email of a member allowed to invite"))
	if actor.KeyOrgID == "" && !actor.InstanceAdmin {
		return Person{}, invalid(fieldErr("inviter", "invalid", "only API keys may name another inviter"))
	}
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return Person{}, bad
	}
	u, err := tx.UserByEmail(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		return Person{}, bad
	}
	if err != nil {
		return Person{}, err
	}
	perms, err := s.permissions(ctx, tx, org.ID, u.ID)
	if err != nil {
		return Person{}, err
	}
	for _, p := range perms {
		if p == account.PermInvite {
			return Person{ID: u.ID, Email: u.Email, Name: u.Name()}, nil
		}
	}
	return Person{}, bad
}

// actorPerson is actor as inviter, when its name is known (or it has no
// account).
func actorPerson(actor Actor) Person {
	return Person{ID: actor.UserID, Email: actor.Email, Name: cmp.Or(actor.Name, actor.Email)}
}

// resolve validates opt against the organization: every field bounded,
// role and groups existing, language a BCP 47 tag.
func (oc *orgContext) resolve(opt Options) (*resolved, error) {
	var errs []account.FieldError
	add := func(field, code, msg string) { errs = append(errs, fieldErr(field, code, msg)) }
	r := &resolved{Options: opt}
	r.FirstName, r.LastName = strings.TrimSpace(opt.FirstName), strings.TrimSpace(opt.LastName)
	for field, v := range map[string]string{"first_name": r.FirstName, "last_name": r.LastName} {
		if msg := checkName(v); msg != "" {
			add(field, "invalid", msg)
		}
	}
	if r.Username != "" {
		r.Username = strings.ToLower(strings.TrimSpace(r.Username))
		if msg := account.CheckUsername(r.Username); msg != "" {
			add("username", "invalid", msg)
		}
	}
	if tag, err := account.CanonicalLanguage(opt.Language); err != nil {
		add("language", "invalid", "must be a language tag such as en, nl or nl-BE")
	} else {
		r.Language = tag
	}
	if r.Role == "" {
		r.Role = account.RoleMember
	}
	if !oc.hasRole(r.Role) {
		add("role", "unknown", fmt.Sprintf("no role %q in this organization", r.Role))
	} else if r.Role == account.RoleOwner {
		add("role", "invalid", "ownership cannot be given by invitation")
	}
	if len(opt.Groups) > maxGroups {
		add("groups", "too_many", fmt.Sprintf("at most %d groups", maxGroups))
	}
	for _, name := range opt.Groups {
		g := oc.group(name)
		if g == nil {
			add("groups", "unknown", fmt.Sprintf("no group %q in this organization", name))
			continue
		}
		if !containsStr(r.groupIDs, g.ID) {
			r.groupIDs = append(r.groupIDs, g.ID)
		}
	}
	if utf8.RuneCountInString(opt.Message) > maxMessageLen {
		add("message", "too_long", fmt.Sprintf("at most %d characters", maxMessageLen))
	}
	if !utf8.ValidString(opt.Message) {
		add("message", "invalid", "must be UTF-8 text")
	}
	r.validity = oc.org.Settings.InvitationTTL
	if opt.ExpiresIn != 0 {
		if opt.ExpiresIn < account.MinInvitationTTL || opt.ExpiresIn > account.MaxInvitationTTL {
			add("expires_in", "out_of_range", "must be between 3600 and 31536000 seconds")
		}
		r.validity = opt.ExpiresIn
	}
	if opt.RedirectURL != "" {
		if msg := account.CheckURL(opt.RedirectURL); msg != "" {
			add("redirect_url", "invalid", msg)
		}
	}
	if len(opt.Metadata) > 0 {
		trimmed := bytes.TrimSpace(opt.Metadata)
		switch {
		case len(trimmed) > maxMetadataLen:
			add("metadata", "too_large", "at most 16 KiB")
		case !json.Valid(trimmed) || trimmed[0] != '{':
			add("metadata", "invalid", "must be a JSON object")
		}
		r.Metadata = trimmed
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	if err := oc.grant.give(oc.roles, r.Role, r.Admin); err != nil {
		return nil, err
	}
	return r, nil
}

func checkName(v string) string {
	if utf8.RuneCountInString(v) > maxNameLen {
		return fmt.Sprintf("at most %d characters", maxNameLen)
	}
	for _, c := range v {
		if c < ' ' || c == 0x7f {
			return "must not contain control characters"
		}
	}
	return ""
}

func (oc *orgContext) hasRole(name string) bool {
	for _, r := range oc.roles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// group finds a group by id or case-insensitive name.
func (oc *orgContext) group(ref string) *account.Group {
	ref = strings.TrimSpace(ref)
	for i, g := range oc.groups {
		if g.ID == ref || strings.EqualFold(g.Name, ref) {
			return &oc.groups[i]
		}
	}
	return nil
}

func (oc *orgContext) groupNames(ids []string) []string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		for _, g := range oc.groups {
			if g.ID == id {
				names = append(names, g.Name)
			}
		}
	}
	return names
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// inviteOne applies the rules of product.md §3 to one normalized address.
func (s *Service) inviteOne(ctx context.Context, tx Tx, actor Actor, oc *orgContext, email string, r *resolved, resend bool) (*Created, error) {
	org := oc.org
	if !org.Settings.DomainAllowed(email) {
		return nil, &Error{Code: CodeDomainNotAllowed, Message: fmt.Sprintf("this organization only invites addresses at %s", strings.Join(org.Settings.AllowedDomains, ", "))}
	}
	// Most people invited have no account yet: the invitation is written
	// on that assumption, and the address's account is read only when
	// there turns out to be one.
	c, err := s.inviteAs(ctx, tx, actor, oc, email, r, resend, nil, false)
	if !errors.Is(err, ErrUserExists) {
		return c, err
	}
	user, err := tx.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrNotFound):
		user = nil
	case err != nil:
		return nil, err
	}
	if user != nil {
		m, err := tx.Membership(ctx, org.ID, user.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if m != nil {
			return nil, errorf(CodeAlreadyMember, "%s is already a member of this organization", email)
		}
	}
	return s.inviteAs(ctx, tx, actor, oc, email, r, resend, user, true)
}

// inviteAs invites email, whose account is user (nil for none) when known
// is set; when it is not, nothing is written if the address has an
// account, and the answer is ErrUserExists.
func (s *Service) inviteAs(ctx context.Context, tx Tx, actor Actor, oc *orgContext, email string, r *resolved, resend bool, user *account.User, known bool) (*Created, error) {
	org := oc.org
	username, err := s.proposeUsername(ctx, tx, email, r.Username)
	if err != nil {
		return nil, err
	}
	inv := s.newInvitation(oc, email, username, r)
	if user != nil && org.Settings.AddExistingUsers && !r.Draft {
		live, err := s.liveInvitation(ctx, tx, org.ID, email, actor)
		if err != nil {
			return nil, err
		}
		if live != nil {
			return nil, errorf(CodeAlreadyInvited, "%s already has an open invitation", email)
		}
		return s.addDirectly(ctx, tx, actor, oc, inv, user)
	}
	token, ev, mail := s.open(inv, r, actor)
	// Insert first: the partial unique index turns the insert into a no-op
	// when the email has a live invitation, and only then is that one read.
	err = tx.CreateInvitation(ctx, inv, ev, mail, !known)
	if errors.Is(err, ErrConflict) {
		live, lerr := s.liveInvitation(ctx, tx, org.ID, email, actor)
		switch {
		case lerr != nil:
			return nil, lerr
		case live == nil:
			// It had expired; now recorded so, it no longer blocks.
			err = tx.CreateInvitation(ctx, inv, ev, mail, !known)
		case resend && live.Status == StatusPending:
			c, err := s.rotate(ctx, tx, actor, org, live, ActionResend, true)
			if err != nil {
				return nil, err
			}
			c.Outcome = OutcomeResent
			return c, nil
		default:
			return nil, errorf(CodeAlreadyInvited, "%s already has an open invitation", email)
		}
	}
	if err != nil {
		return nil, err
	}
	return s.created(oc, inv, token), nil
}

// newInvitation is the invitation of email in oc's organization as r
// asks, not yet drafted or sent (open).
func (s *Service) newInvitation(oc *orgContext, email, username string, r *resolved) *Invitation {
	now := s.Now()
	inv := &Invitation{
		ID: NewID(), OrgID: oc.org.ID, Email: email, Username: username,
		FirstName: r.FirstName, LastName: r.LastName, Language: r.Language,
		Role: r.Role, GroupIDs: r.groupIDs, Admin: r.Admin, Message: r.Message,
		InviterID: oc.inviter.ID, Source: r.Source, ImportID: r.ImportID,
		CreatedAt: now, UpdatedAt: now, DeliveryStatus: DeliveryNone,
		RedirectURL: r.RedirectURL, Metadata: r.Metadata,
	}
	if inv.Source == "" {
		inv.Source = SourceAPI
	}
	return inv
}

// open makes inv a draft, or pending with a token (returned) and its
// email queued unless r says not to; it returns what is written with the
// invitation: its created event and its email (nil for none).
func (s *Service) open(inv *Invitation, r *resolved, actor Actor) (token string, ev *Event, mail *Email) {
	now := inv.CreatedAt
	inv.Status = StatusDraft
	if !r.Draft {
		token = s.issue(inv, now, r.validity)
		inv.Status = StatusPending
		if !r.NoEmail {
			s.queue(inv)
		}
	} else {
		inv.ExpiresAt = now.Add(r.validity) // kept as the validity to apply when sent
	}
	ev = s.newEvent(inv, "created", "", actor, "")
	ev.At = now // the moment of creation, to the nanosecond
	if inv.DeliveryStatus == DeliveryQueued {
		mail = s.invitationMail(inv, MailInvitation)
	}
	return token, ev, mail
}

// created is the answer for inv, created with token ("" for a draft).
func (s *Service) created(oc *orgContext, inv *Invitation, token string) *Created {
	inv.Groups = oc.groupNames(inv.GroupIDs)
	inv.Inviter = oc.inviter
	c := &Created{Invitation: inv, Outcome: OutcomeInvited}
	if token != "" {
		c.Link = s.LinkFor(token)
	}
	return c
}

// inviteAlone creates the invitation in one statement outside a
// transaction when the store can (AloneCreator) and nothing else needs
// the database: an API key's call whose options name no group, custom
// role, username or inviter, in an organization the store remembers. It
// reports false whenever the transactional path must decide (an account
// or a live invitation for the address, settings changed meanwhile, bad
// input, any error), and that path then runs as if this had not been
// tried: nothing was written.
func (s *Service) inviteAlone(ctx context.Context, actor Actor, slug, email string, opt Options) (*Created, bool) {
	if s.alone == nil || actor.KeyOrgID == "" || (actor.UserID != "" && actor.Name == "") ||
		opt.Inviter != "" || opt.Username != "" || len(opt.Groups) > 0 || !(opt.Role == "" || isBuiltInRole(opt.Role)) {
		return nil, false
	}
	org, ok := s.alone.CachedOrg(strings.ToLower(slug))
	if !ok || org.ID != actor.KeyOrgID {
		return nil, false
	}
	// (An API key may give anything: oc.grant is nil.)
	oc := &orgContext{org: org, roles: account.BuiltInRoles(), inviter: actorPerson(actor)}
	r, err := oc.resolve(opt)
	if err != nil {
		return nil, false
	}
	norm, err := account.NormalizeEmail(email)
	if err != nil || !org.Settings.DomainAllowed(norm) {
		return nil, false
	}
	var held allowance
	if err := s.hold(&held, org.ID, 1); err != nil {
		return nil, false // the transactional path refuses it
	}
	inv := s.newInvitation(oc, norm, account.UsernameFromEmail(norm), r)
	token, ev, mail := s.open(inv, r, actor)
	if err := s.alone.CreateInvitationAlone(ctx, org, inv, ev, mail); err != nil {
		s.release(held, 0)
		return nil, false
	}
	return s.created(oc, inv, token), true
}

// liveInvitation returns the organization's live invitation for email, if
// any. A pending one whose time ran out is recorded as expired first: an
// expired invitation never blocks inviting again.
func (s *Service) liveInvitation(ctx context.Context, tx Tx, orgID, email string, actor Actor) (*Invitation, error) {
	inv, err := tx.LiveInvitation(ctx, orgID, email)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if inv.StatusAt(s.Now()) == StatusExpired && inv.Status == StatusPending {
		if err := s.recordExpiry(ctx, tx, inv); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return inv, nil
}

// proposeUsername returns want if given and free, else the username
// derived from the email. A derived one is only a proposal: registration
// takes a free variant if it was taken meanwhile ("ana-2"), and the
// availability check shows the free one before inviting.
func (s *Service) proposeUsername(ctx context.Context, tx Tx, email, want string) (string, error) {
	if want == "" {
		return account.UsernameFromEmail(email), nil
	}
	_, err := tx.UserByUsername(ctx, want)
	switch {
	case err == nil:
		return "", &Error{Code: CodeUsernameTaken, Message: fmt.Sprintf("the username %q is taken", want),
			Fields: []account.FieldError{fieldErr("username", CodeUsernameTaken, "is taken")}}
	case errors.Is(err, ErrNotFound):
		return want, nil
	}
	return "", err
}

func (s *Service) freeUsername(ctx context.Context, tx Tx, base string) (string, error) {
	for n := 1; n < 1000; n++ {
		candidate := base
		if n > 1 {
			candidate = account.WithSuffix(base, n)
		}
		_, err := tx.UserByUsername(ctx, candidate)
		if errors.Is(err, ErrNotFound) {
			return candidate, nil
		}
		if err != nil {
			return "", err
		}
	}
	return base + "-" + NewNonce()[:6], nil
}

// issue gives inv a fresh token valid for validity from now, and returns it.
func (s *Service) issue(inv *Invitation, now time.Time, validity time.Duration) string {
	inv.TokenNonce = NewNonce()
	token := s.tokens.Token(inv.ID, inv.TokenNonce)
	inv.TokenHash = HashToken(token)
	inv.SentAt = now
	inv.ExpiresAt = now.Add(validity)
	inv.RemindedSteps = 0
	return token
}

// queue marks inv's email as on its way.
func (s *Service) queue(inv *Invitation) {
	inv.SendCount++
	inv.DeliveryStatus = DeliveryQueued
	inv.DeliveryError = ""
	inv.DeliveredAt = time.Time{}
}

func (s *Service) enqueueInvitationMail(ctx context.Context, tx Tx, inv *Invitation, kind string) error {
	return tx.EnqueueEmail(ctx, s.invitationMail(inv, kind))
}

// invitationMail is an email of kind about inv, due now.
func (s *Service) invitationMail(inv *Invitation, kind string) *Email {
	return &Email{ID: NewID(), OrgID: inv.OrgID, Kind: kind, InvitationID: inv.ID, To: inv.Email, DueAt: s.Now()}
}

// addDirectly makes an existing user a member at once (the organization's
// add-existing-users setting), recording it as an accepted invitation so
// that the history shows who added them.
func (s *Service) addDirectly(ctx context.Context, tx Tx, actor Actor, oc *orgContext, inv *Invitation, user *account.User) (*Created, error) {
	now := s.Now()
	inv.Status = StatusAccepted
	inv.AcceptedAt, inv.AcceptedUserID = now, user.ID
	inv.SentAt, inv.ExpiresAt = now, now
	if err := tx.InsertInvitation(ctx, inv); err != nil {
		return nil, err
	}
	if err := tx.PutMembership(ctx, &account.Membership{
		OrgID: inv.OrgID, UserID: user.ID, Role: inv.Role, Admin: inv.Admin, Active: true,
		GroupIDs: inv.GroupIDs, CreatedAt: now,
	}); err != nil {
		return nil, err
	}
	if err := s.event(ctx, tx, inv, "added", "", actor, "existing user added directly"); err != nil {
		return nil, err
	}
	inv.Groups = oc.groupNames(inv.GroupIDs)
	inv.Inviter = oc.inviter
	return &Created{Invitation: inv, Outcome: OutcomeAdded}, nil
}
