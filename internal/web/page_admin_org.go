package web

import (
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore"
)

// grantsView is what the invite form and the import form share: what
// the invitations grant and say (template "grant_fields").
type grantsView struct {
	Roles     []account.Role
	AllGroups []account.Group
	Role      string
	Groups    []string
	Admin     bool
	Language  string
	Message   string
	ValidDays string
}

// readGrants reads the grant fields of a form; one returns a field's
// value, trimmed.
func readGrants(one func(string) string, groups []string) grantsView {
	return grantsView{Role: one("role"), Groups: groups, Admin: one("admin") == "true", Language: one("language"),
		Message: one("message"), ValidDays: one("valid_days")}
}

// loadGrants fills in the organization's roles and groups to choose from.
func (s *server) loadGrants(r *http.Request, c *console, g *grantsView) error {
	var err error
	if g.Roles, err = s.svc.Roles(r.Context(), c.actor, c.slug); err != nil {
		return err
	}
	g.AllGroups, err = s.svc.Groups(r.Context(), c.actor, c.slug)
	return err
}

// validity is the form's "valid for (days)" as a duration; 0 when empty
// (the organization's default).
func (g *grantsView) validity() (time.Duration, error) {
	if g.ValidDays == "" {
		return 0, nil
	}
	days, err := strconv.ParseFloat(g.ValidDays, 64)
	d := time.Duration(days * float64(24*time.Hour)).Round(time.Minute)
	if err != nil || d < account.MinInvitationTTL || d > account.MaxInvitationTTL {
		return 0, errorf(invite.CodeValidation, "Validity must be a number of days from 1 hour (0.05) to 365.",
			account.FieldError{Field: "valid_days", Code: "out_of_range", Message: "enter a number of days from 0.05 (1 hour) to 365"})
	}
	return d, nil
}

// inviteFormView is the invite form, its availability check and results.
type inviteFormView struct {
	grantsView
	Emails    string
	Username  string
	FirstName string
	LastName  string
	Avail     *invite.Availability
	AvailFor  string
	Results   []inviteResult
	Errs      []account.FieldError
	Error     string
}

type inviteResult struct {
	Email   string
	Outcome string
	Label   string
	Detail  string
	ID      string
	OK      bool
}

var outcomeLabels = map[string]string{
	invite.OutcomeInvited: "Invited", invite.OutcomeResent: "Sent again", invite.OutcomeAdded: "Added directly",
	invite.OutcomeAlreadyInvited: "Already invited", invite.OutcomeAlreadyMember: "Already a member",
	invite.OutcomeInvalidEmail: "Invalid address", invite.OutcomeDuplicate: "Duplicate in the list",
	invite.OutcomeNotAllowed: "Domain not allowed",
}

func (s *server) adminInvitePage(w http.ResponseWriter, r *http.Request, c *console) {
	if !c.view.Can(string(account.PermInvite)) {
		s.consoleError(w, r, c, errorf(invite.CodeForbidden, "you need the invitations.create permission in this organization"))
		return
	}
	fv := &inviteFormView{grantsView: grantsView{Role: account.RoleMember}}
	if err := s.loadGrants(r, c, &fv.grantsView); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_invite", c.page("Invite people", fv))
}

func (s *server) adminInvite(w http.ResponseWriter, r *http.Request, c *console) {
	r.ParseForm()
	f := r.PostForm
	one := func(name string) string { return strings.TrimSpace(f.Get(name)) }
	fv := &inviteFormView{grantsView: readGrants(one, f["groups"]), Emails: f.Get("emails"), Username: one("username"),
		FirstName: one("first_name"), LastName: one("last_name")}
	if !c.view.Can(string(account.PermInvite)) {
		s.consoleError(w, r, c, errorf(invite.CodeForbidden, "you need the invitations.create permission in this organization"))
		return
	}
	if err := s.loadGrants(r, c, &fv.grantsView); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	show := func(status int) { s.render(w, r, status, "admin_invite", c.page("Invite people", fv)) }
	emails := account.SplitEmailList(fv.Emails)
	if len(emails) == 0 {
		fv.Errs = []account.FieldError{{Field: "emails", Message: "Enter at least one email address."}}
		show(http.StatusUnprocessableEntity)
		return
	}
	if f.Get("check") != "" {
		if len(emails) != 1 {
			fv.Error = "The availability check works on one address at a time."
			show(http.StatusOK)
			return
		}
		a, err := s.svc.CheckAvailability(r.Context(), c.actor, c.slug, emails[0], fv.Username)
		if err != nil {
			if code := invite.CodeOf(err); code == "" || code == invite.CodeForbidden {
				s.consoleError(w, r, c, err)
				return
			}
			fv.Error, fv.Errs = s.messageOf(r, err), fieldsOf(err)
			show(problemFor(s.log, r, err).Status)
			return
		}
		fv.Avail, fv.AvailFor = a, emails[0]
		if fv.Username == "" || a.Username == "taken" {
			fv.Username = a.SuggestedUsername
		}
		show(http.StatusOK)
		return
	}
	opt := invite.Options{FirstName: fv.FirstName, LastName: fv.LastName, Language: fv.Language, Role: fv.Role,
		Groups: fv.Groups, Admin: fv.Admin, Message: fv.Message, Source: invite.SourceUI}
	var err error
	if opt.ExpiresIn, err = fv.validity(); err != nil {
		fv.Error, fv.Errs = s.messageOf(r, err), fieldsOf(err)
		show(http.StatusUnprocessableEntity)
		return
	}
	if len(emails) == 1 {
		opt.Username = fv.Username
		cr, err := s.svc.Invite(r.Context(), c.actor, c.slug, emails[0], opt)
		if err != nil {
			code := invite.CodeOf(err)
			switch code {
			case "", invite.CodeForbidden, invite.CodeNotFound:
				s.consoleError(w, r, c, err)
				return
			case invite.CodeAlreadyInvited, invite.CodeAlreadyMember, invite.CodeInvalidEmail, invite.CodeDomainNotAllowed:
				fv.Results = []inviteResult{{Email: emails[0], Outcome: code, Label: outcomeLabels[code], Detail: s.messageOf(r, err)}}
				show(http.StatusOK)
				return
			}
			fv.Error, fv.Errs = s.messageOf(r, err), fieldsOf(err)
			show(problemFor(s.log, r, err).Status)
			return
		}
		fv.Results = []inviteResult{{Email: cr.Invitation.Email, Outcome: cr.Outcome, Label: outcomeLabels[cr.Outcome],
			ID: cr.Invitation.ID, OK: true}}
	} else {
		res, err := s.svc.InviteMany(r.Context(), c.actor, c.slug, emails, opt, false)
		if err != nil {
			if code := invite.CodeOf(err); code == "" || code == invite.CodeForbidden {
				s.consoleError(w, r, c, err)
				return
			}
			fv.Error, fv.Errs = s.messageOf(r, err), fieldsOf(err)
			show(problemFor(s.log, r, err).Status)
			return
		}
		for _, b := range res {
			ir := inviteResult{Email: b.Email, Outcome: b.Outcome, Label: outcomeLabels[b.Outcome]}
			if ir.Label == "" {
				ir.Label = b.Outcome
			}
			if b.Created != nil {
				ir.ID, ir.OK = b.Created.Invitation.ID, true
			}
			if b.Err != nil {
				ir.Detail = b.Err.Message
			}
			fv.Results = append(fv.Results, ir)
		}
	}
	fv.Emails, fv.Username = "", ""
	show(http.StatusOK)
}

// membersView is members and pending invitees together.
type membersView struct {
	Members []account.Member
	Pending []*invite.Invitation
	Roles   []account.Role
	Groups  []account.Group
	Now     time.Time
	// Capped: Pending holds only the first invite.MaxPendingMembers.
	Capped bool
}

func (s *server) adminMembers(w http.ResponseWriter, r *http.Request, c *console) {
	ctx := r.Context()
	mv := &membersView{Now: s.svc.Now()}
	var err error
	if mv.Members, mv.Pending, err = s.svc.Members(ctx, c.actor, c.slug, c.view.SeesInvitations()); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	mv.Capped = len(mv.Pending) >= invite.MaxPendingMembers
	if mv.Roles, err = s.svc.Roles(ctx, c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	if mv.Groups, err = s.svc.Groups(ctx, c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_members", c.page("Members", mv))
}

func (s *server) adminMemberUpdate(w http.ResponseWriter, r *http.Request, c *console) {
	r.ParseForm()
	f := r.PostForm
	var ch invite.MemberChange
	var done string
	switch f.Get("action") {
	case "deactivate", "reactivate":
		active := f.Get("action") == "reactivate"
		ch.Active = &active
		done = map[bool]string{true: "Reactivated the member.", false: "Deactivated the member: they keep their record but lose access."}[active]
	default:
		role, groups, admin := f.Get("role"), f["groups"], f.Get("admin") == "on"
		ch.Role, ch.Groups, ch.Admin = &role, &groups, &admin
		done = "Saved the member's role and groups."
	}
	_, err := s.svc.UpdateMember(r.Context(), c.actor, c.slug, r.PathValue("user_id"), ch)
	s.finish(w, r, c, err, done, "/admin/orgs/"+c.slug+"/members")
}

func (s *server) adminMemberRemove(w http.ResponseWriter, r *http.Request, c *console) {
	err := s.svc.RemoveMember(r.Context(), c.actor, c.slug, r.PathValue("user_id"))
	s.finish(w, r, c, err, "Removed the member from the organization.", "/admin/orgs/"+c.slug+"/members")
}

type groupsView struct {
	Groups []account.Group
	Name   string
	Error  string
}

func (s *server) adminGroups(w http.ResponseWriter, r *http.Request, c *console) {
	s.showGroups(w, r, c, http.StatusOK, &groupsView{})
}

func (s *server) showGroups(w http.ResponseWriter, r *http.Request, c *console, status int, gv *groupsView) {
	var err error
	if gv.Groups, err = s.svc.Groups(r.Context(), c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	s.render(w, r, status, "admin_groups", c.page("Groups", gv))
}

func (s *server) adminGroupCreate(w http.ResponseWriter, r *http.Request, c *console) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	g, err := s.svc.CreateGroup(r.Context(), c.actor, c.slug, name)
	if err != nil {
		if replacesPage(err) {
			s.consoleError(w, r, c, err)
			return
		}
		s.showGroups(w, r, c, problemFor(s.log, r, err).Status, &groupsView{Name: name, Error: s.messageOf(r, err)})
		return
	}
	s.setFlash(w, "ok", "Created the group "+g.Name+".")
	redirect(w, r, "/admin/orgs/"+c.slug+"/groups")
}

func (s *server) adminGroupDelete(w http.ResponseWriter, r *http.Request, c *console) {
	err := s.svc.DeleteGroup(r.Context(), c.actor, c.slug, r.PathValue("id"))
	s.finish(w, r, c, err, "Deleted the group.", "/admin/orgs/"+c.slug+"/groups")
}

// settingsView is the settings form: the values as typed, so that a
// rejected save shows what was entered.
type settingsView struct {
	TTLValue  string
	TTLUnit   string
	Reminders string
	Auto      bool
	Existing  bool
	Domains   string
	Language  string
	Redirect  string
	Policy    string
	Color     string
	Errs      []account.FieldError
	Error     string
}

func settingsForm(st account.Settings) *settingsView {
	sv := &settingsView{Auto: st.AutoApproval, Existing: st.AddExistingUsers, Domains: strings.Join(st.AllowedDomains, "\n"),
		Language: st.DefaultLanguage, Redirect: st.RedirectURL, Policy: string(st.PasswordPolicy), Color: st.BrandColor}
	if st.InvitationTTL%(24*time.Hour) == 0 {
		sv.TTLValue, sv.TTLUnit = strconv.Itoa(int(st.InvitationTTL/(24*time.Hour))), "days"
	} else {
		sv.TTLValue, sv.TTLUnit = strconv.Itoa(int(st.InvitationTTL/time.Hour)), "hours"
	}
	var rs []string
	for _, d := range st.ReminderSchedule {
		rs = append(rs, strconv.FormatFloat(d.Hours()/24, 'f', -1, 64))
	}
	sv.Reminders = strings.Join(rs, ", ")
	return sv
}

func (s *server) adminSettings(w http.ResponseWriter, r *http.Request, c *console) {
	if !c.view.Can(string(account.PermManageSettings)) {
		s.consoleError(w, r, c, errorf(invite.CodeForbidden, "you need the settings.manage permission in this organization"))
		return
	}
	s.render(w, r, http.StatusOK, "admin_settings", c.page("Settings", settingsForm(c.view.Org.Settings)))
}

func (s *server) adminSettingsSave(w http.ResponseWriter, r *http.Request, c *console) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	sv := &settingsView{TTLValue: f("ttl_value"), TTLUnit: f("ttl_unit"), Reminders: f("reminders"), Auto: f("auto_approval") == "on",
		Existing: f("add_existing_users") == "on", Domains: f("allowed_domains"), Language: f("default_language"),
		Redirect: f("redirect_url"), Policy: f("password_policy"), Color: f("brand_color")}
	var errs []account.FieldError
	ttlNum, err := strconv.ParseFloat(sv.TTLValue, 64)
	unit := time.Hour
	if sv.TTLUnit == "days" {
		unit = 24 * time.Hour
	}
	if err != nil || ttlNum <= 0 {
		errs = append(errs, account.FieldError{Field: "invitation_ttl", Message: "must be a number"})
	}
	var reminders []time.Duration
	for _, part := range strings.FieldsFunc(sv.Reminders, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		d, err := strconv.ParseFloat(part, 64)
		if err != nil || d <= 0 {
			errs = append(errs, account.FieldError{Field: "reminder_schedule", Message: fmt.Sprintf("%q is not a number of days", part)})
			break
		}
		reminders = append(reminders, time.Duration(d*float64(24*time.Hour)).Round(time.Minute))
	}
	if len(errs) > 0 {
		sv.Errs, sv.Error = errs, "Please correct the fields marked below."
		s.render(w, r, http.StatusUnprocessableEntity, "admin_settings", c.page("Settings", sv))
		return
	}
	org, err := s.svc.UpdateSettings(r.Context(), c.actor, c.slug, func(st *account.Settings) error {
		st.InvitationTTL = time.Duration(ttlNum * float64(unit)).Round(time.Minute)
		st.ReminderSchedule = reminders
		st.AutoApproval, st.AddExistingUsers = sv.Auto, sv.Existing
		st.AllowedDomains = strings.FieldsFunc(sv.Domains, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == ';' })
		st.DefaultLanguage, st.RedirectURL = sv.Language, sv.Redirect
		st.PasswordPolicy, st.BrandColor = account.PasswordPolicy(sv.Policy), sv.Color
		return nil
	})
	if err != nil {
		if replacesPage(err) {
			s.consoleError(w, r, c, err)
			return
		}
		sv.Errs, sv.Error = fieldsOf(err), s.messageOf(r, err)
		s.render(w, r, problemFor(s.log, r, err).Status, "admin_settings", c.page("Settings", sv))
		return
	}
	s.setFlash(w, "ok", "Saved the settings of "+org.Name+".")
	redirect(w, r, "/admin/orgs/"+c.slug+"/settings")
}

type auditView struct {
	Entries []invite.AuditEntry
	Older   string
}

func (s *server) adminAudit(w http.ResponseWriter, r *http.Request, c *console) {
	const n = 100
	before := r.URL.Query().Get("before")
	if len(before) > 100 {
		before = ""
	}
	entries, err := s.svc.Audit(r.Context(), c.actor, c.slug, n, before)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	av := &auditView{Entries: entries}
	if len(entries) == n {
		av.Older = entries[len(entries)-1].ID
	}
	s.render(w, r, http.StatusOK, "admin_audit", c.page("Audit log", av))
}

type mailboxView struct {
	Messages []mailboxItem
	To       string
}

type mailboxItem struct {
	sqlstore.MailboxMessage
	Body template.HTML
}

// adminMailbox lists the built-in mailbox (instance admins; only while no
// SMTP server is configured).
func (s *server) adminMailbox(w http.ResponseWriter, r *http.Request, c *console) {
	c.view.Nav = "mailbox"
	if !s.cfg.Mailbox {
		s.consoleError(w, r, c, errorf(invite.CodeNotFound, "the built-in mailbox is off: an SMTP server is configured"))
		return
	}
	if !c.user.InstanceAdmin {
		s.consoleError(w, r, c, errorf(invite.CodeForbidden, "the mailbox is for instance admins"))
		return
	}
	// Keep the console's menu, for the first organization that is not a
	// personal one.
	for _, o := range c.view.Orgs {
		if c.view.Org == nil || (c.view.Org.Personal && !o.Personal) {
			org := o
			c.view.Org = &org
		}
	}
	if c.view.Org != nil {
		if c.view.Perms, _ = s.svc.Permissions(r.Context(), c.actor, c.view.Org.Slug); c.view.Perms == nil {
			c.view.Org = nil
		}
	}
	mv := &mailboxView{To: strings.TrimSpace(r.URL.Query().Get("to"))}
	to := ""
	if mv.To != "" {
		norm, err := account.NormalizeEmail(mv.To)
		if err != nil {
			s.consoleError(w, r, c, errorf(invite.CodeInvalidEmail, "to: "+err.Error()))
			return
		}
		to = norm
	}
	msgs, err := s.store.Mailbox(r.Context(), to, 100)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	for _, m := range msgs {
		mv.Messages = append(mv.Messages, mailboxItem{MailboxMessage: m, Body: linkify(m.Text)})
	}
	s.render(w, r, http.StatusOK, "admin_mailbox", c.page("Mailbox", mv))
}

var urlRe = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify escapes text and turns its http(s) URLs into links. Every
// piece of text goes through HTMLEscapeString, so the result is safe.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlRe.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := template.HTMLEscapeString(text[m[0]:m[1]])
		b.WriteString(`<a href="` + u + `">` + u + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}
