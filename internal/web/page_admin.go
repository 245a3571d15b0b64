package web

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

// adminView is what every console page knows: who, where, and what they
// may do there (the service enforces it; the console only hides).
type adminView struct {
	Orgs    []account.Organization
	Org     *account.Organization
	Perms   []account.Permission
	Nav     string
	Mailbox bool
}

// Can reports whether the signed-in user holds permission p here.
func (a *adminView) Can(p string) bool {
	return slices.Contains(a.Perms, account.Permission(p))
}

// CanEverything reports whether the user holds every permission here, as
// managing API keys needs.
func (a *adminView) CanEverything() bool {
	for _, p := range account.AllPermissions {
		if !a.Can(string(p)) {
			return false
		}
	}
	return true
}

// SeesInvitations reports whether the user may list invitations here.
func (a *adminView) SeesInvitations() bool {
	return a.Can(string(account.PermInvite)) || a.Can(string(account.PermManageInvites)) || a.Can(string(account.PermApprove))
}

// console is one console request: the signed-in user and their view.
type console struct {
	user  *account.User
	actor invite.Actor
	slug  string
	view  *adminView
}

func (c *console) page(title string, data any) *view {
	return &view{Title: title, User: c.user, Admin: c.view, Data: data}
}

func (s *server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/{$}", s.adminHome)
	mux.HandleFunc("GET /admin/signin", s.adminSignInPage)
	mux.HandleFunc("POST /admin/signin", s.adminSignIn)
	mux.HandleFunc("POST /admin/signout", s.adminSignOut)
	mux.HandleFunc("GET /admin/switch", s.signedIn(s.adminSwitch))
	mux.HandleFunc("GET /admin/mailbox", s.signedIn(s.adminMailbox))

	org := func(pattern, nav string, h func(http.ResponseWriter, *http.Request, *console)) {
		mux.HandleFunc(pattern, s.signedIn(s.inOrg(nav, h)))
	}
	org("GET /admin/orgs/{org}/{$}", "", func(w http.ResponseWriter, r *http.Request, c *console) {
		if c.view.SeesInvitations() {
			redirect(w, r, "/admin/orgs/"+c.slug+"/invitations")
			return
		}
		redirect(w, r, "/admin/orgs/"+c.slug+"/members")
	})
	org("GET /admin/orgs/{org}/invitations", "invitations", s.adminInvitations)
	org("GET /admin/orgs/{org}/invitations.csv", "invitations", s.adminExport)
	org("POST /admin/orgs/{org}/invitations/bulk", "invitations", s.adminBulk)
	org("GET /admin/orgs/{org}/invitations/{id}", "invitations", s.adminInvitation)
	org("POST /admin/orgs/{org}/invitations/{id}/{verb}", "invitations", s.adminAction)
	org("GET /admin/orgs/{org}/invite", "invite", s.adminInvitePage)
	org("POST /admin/orgs/{org}/invite", "invite", s.adminInvite)
	org("GET /admin/orgs/{org}/members", "members", s.adminMembers)
	org("POST /admin/orgs/{org}/members/{user_id}", "members", s.adminMemberUpdate)
	org("POST /admin/orgs/{org}/members/{user_id}/remove", "members", s.adminMemberRemove)
	org("GET /admin/orgs/{org}/groups", "groups", s.adminGroups)
	org("POST /admin/orgs/{org}/groups", "groups", s.adminGroupCreate)
	org("POST /admin/orgs/{org}/groups/{id}/delete", "groups", s.adminGroupDelete)
	org("GET /admin/orgs/{org}/settings", "settings", s.adminSettings)
	org("POST /admin/orgs/{org}/settings", "settings", s.adminSettingsSave)
	org("GET /admin/orgs/{org}/audit", "audit", s.adminAudit)
	s.adminImportRoutes(org)
	s.adminWebhookRoutes(org)
	s.adminAPIKeyRoutes(org)
	s.adminRoleRoutes(org)
	s.adminProfileRoutes(org)
}

// signedIn sends visitors without a session to the sign-in page.
func (s *server) signedIn(h func(http.ResponseWriter, *http.Request, *console)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.sessionUser(w, r)
		if !ok {
			next := r.URL.Path
			if r.Method != http.MethodGet {
				next = "/admin/"
			}
			redirect(w, r, "/admin/signin?next="+url.QueryEscape(next))
			return
		}
		c := &console{user: u, actor: invite.Actor{UserID: u.ID, Email: u.Email, InstanceAdmin: u.InstanceAdmin},
			view: &adminView{Mailbox: s.cfg.Mailbox && u.InstanceAdmin}}
		orgs, err := s.svc.Orgs(r.Context(), c.actor)
		if err != nil {
			s.errorPage(w, r, err, nil)
			return
		}
		c.view.Orgs = orgs
		h(w, r, c)
	}
}

// inOrg loads the organization of the path and the user's rights in it.
func (s *server) inOrg(nav string, h func(http.ResponseWriter, *http.Request, *console)) func(http.ResponseWriter, *http.Request, *console) {
	return func(w http.ResponseWriter, r *http.Request, c *console) {
		c.slug = r.PathValue("org")
		org, err := s.svc.Org(r.Context(), c.actor, c.slug)
		if err != nil {
			s.errorPage(w, r, err, &view{User: c.user, Admin: c.view})
			return
		}
		perms, err := s.svc.Permissions(r.Context(), c.actor, c.slug)
		if err != nil {
			s.errorPage(w, r, err, &view{User: c.user, Admin: c.view})
			return
		}
		c.view.Org, c.view.Perms, c.view.Nav, c.slug = org, perms, nav, org.Slug
		if !slices.ContainsFunc(c.view.Orgs, func(o account.Organization) bool { return o.ID == org.ID }) {
			c.view.Orgs = append(c.view.Orgs, *org) // an instance admin visiting
		}
		h(w, r, c)
	}
}

// fail shows a console error page in the console's frame.
func (s *server) consoleError(w http.ResponseWriter, r *http.Request, c *console, err error) {
	s.errorPage(w, r, err, &view{User: c.user, Admin: c.view})
}

// replacesPage reports whether a console action's error takes the whole
// page (an unexpected failure, a refusal, a missing resource) rather
// than being shown beside what the admin was doing.
func replacesPage(err error) bool {
	code := invite.CodeOf(err)
	return code == "" || code == invite.CodeForbidden || code == invite.CodeNotFound
}

// finish ends a console action that goes back to a page: an error that
// replaces the page is shown as such, another is flashed; success flashes
// done (when given). Then back.
func (s *server) finish(w http.ResponseWriter, r *http.Request, c *console, err error, done, back string) {
	switch {
	case err != nil && replacesPage(err):
		s.consoleError(w, r, c, err)
		return
	case err != nil:
		s.setFlash(w, "bad", s.messageOf(r, err))
	case done != "":
		s.setFlash(w, "ok", done)
	}
	redirect(w, r, back)
}

func (s *server) adminHome(w http.ResponseWriter, r *http.Request) {
	u, ok := s.sessionUser(w, r)
	if !ok {
		s.adminSignInPage(w, r)
		return
	}
	s.signedIn(func(w http.ResponseWriter, r *http.Request, c *console) {
		for _, o := range c.view.Orgs {
			if !o.Personal {
				redirect(w, r, "/admin/orgs/"+o.Slug+"/")
				return
			}
		}
		if len(c.view.Orgs) > 0 {
			redirect(w, r, "/admin/orgs/"+c.view.Orgs[0].Slug+"/")
			return
		}
		_ = u
		s.render(w, r, http.StatusOK, "admin_home", c.page("Welcome", nil))
	})(w, r)
}

type signInView struct {
	Email  string
	Next   string
	Error  string
	Signup bool
}

func (s *server) adminSignInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.sessionUser(w, r); ok && r.URL.Path == "/admin/signin" {
		redirect(w, r, localPath(r.URL.Query().Get("next"), "/admin/"))
		return
	}
	s.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", Narrow: true,
		Data: &signInView{Next: localPath(r.URL.Query().Get("next"), "/admin/"), Signup: s.svc.OpenSignup()}})
}

func (s *server) adminSignIn(w http.ResponseWriter, r *http.Request) {
	sv := &signInView{Email: strings.TrimSpace(r.PostFormValue("email")), Next: localPath(r.PostFormValue("next"), "/admin/"),
		Signup: s.svc.OpenSignup()}
	if !s.allowed(r, "signin", strings.ToLower(sv.Email)) {
		sv.Error = s.messageOf(r, errRateLimit)
		s.render(w, r, http.StatusTooManyRequests, "signin", &view{Title: "Sign in", Narrow: true, Data: sv})
		return
	}
	u, err := s.svc.SignIn(r.Context(), sv.Email, r.PostFormValue("password"))
	if err != nil {
		sv.Error = s.messageOf(r, err)
		s.render(w, r, problemFor(s.log, r, err).Status, "signin", &view{Title: "Sign in", Narrow: true, Data: sv})
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.errorPage(w, r, err, nil)
		return
	}
	redirect(w, r, sv.Next)
}

func (s *server) adminSignOut(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r)
	s.setFlash(w, "ok", "You are signed out.")
	redirect(w, r, "/admin/signin")
}

func (s *server) adminSwitch(w http.ResponseWriter, r *http.Request, c *console) {
	slug := account.Slug(r.URL.Query().Get("org"))
	if slug == "" {
		redirect(w, r, "/admin/")
		return
	}
	redirect(w, r, "/admin/orgs/"+slug+"/")
}

// listView is the invitations list.
type listView struct {
	Items    []*invite.Invitation
	Now      time.Time
	Total    int
	Capped   bool // Total stopped counting: there are more
	Q        string
	Status   string
	Sort     string
	Next     template.URL // query of the next page, "" on the last
	First    bool
	Statuses []invite.Status
	Back     string // this page, to come back to after an action
	Export   string
	ImportID string // only the invitations of one import
}

const pageSize = 25

// listQuery reads the list's filters from the query string.
func listQuery(r *http.Request) (invite.ListFilter, *listView, error) {
	q := r.URL.Query()
	lv := &listView{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Sort: q.Get("sort"), Statuses: invite.AllStatuses,
		ImportID: strings.TrimSpace(q.Get("import_id"))}
	f := invite.ListFilter{Query: lv.Q, Sort: lv.Sort, Limit: pageSize, ImportID: lv.ImportID}
	if len(f.Query) > maxQuery {
		return f, lv, errorf(invite.CodeValidation, "the search text is too long (at most 200 characters)")
	}
	if lv.Status != "" {
		st := invite.Status(lv.Status)
		if !st.Valid() {
			return f, lv, errorf(invite.CodeValidation, "unknown status filter")
		}
		f.Statuses = []invite.Status{st}
	}
	switch f.Sort {
	case "created_at", "-created_at", "email", "-email", "expires_at", "-expires_at":
	case "":
		f.Sort, lv.Sort = "-created_at", "-created_at"
	default:
		return f, lv, errorf(invite.CodeValidation, "unknown sort order")
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			return f, lv, errorf(invite.CodeValidation, "that page link is no longer valid")
		}
		f.After = c
	}
	lv.First = f.After == nil
	return f, lv, nil
}

// Filters are the query of the list without its cursor.
func (lv *listView) Filters() url.Values { return lv.filters() }

func (lv *listView) filters() url.Values {
	v := url.Values{}
	if lv.Q != "" {
		v.Set("q", lv.Q)
	}
	if lv.Status != "" {
		v.Set("status", lv.Status)
	}
	if lv.Sort != "" && lv.Sort != "-created_at" {
		v.Set("sort", lv.Sort)
	}
	if lv.ImportID != "" {
		v.Set("import_id", lv.ImportID)
	}
	return v
}

func (s *server) adminInvitations(w http.ResponseWriter, r *http.Request, c *console) {
	f, lv, err := listQuery(r)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	page, err := s.svc.List(r.Context(), c.actor, c.slug, f)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	lv.Items, lv.Total, lv.Capped, lv.Now = page.Items, page.Total, page.TotalCapped, s.svc.Now()
	base := lv.filters()
	lv.Export = "/admin/orgs/" + c.slug + "/invitations.csv"
	if e := base.Encode(); e != "" {
		lv.Export += "?" + e
	}
	if page.Next != nil {
		n := lv.filters()
		n.Set("cursor", encodeCursor(page.Next))
		lv.Next = template.URL(n.Encode())
	}
	lv.Back = r.URL.RequestURI()
	s.render(w, r, http.StatusOK, "admin_invitations", c.page("Invitations", lv))
}

// adminExport writes every invitation the filters select as CSV.
func (s *server) adminExport(w http.ResponseWriter, r *http.Request, c *console) {
	f, _, err := listQuery(r)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	f.Limit, f.After = 500, nil
	var rows [][]string
	now := s.svc.Now()
	for {
		page, err := s.svc.List(r.Context(), c.actor, c.slug, f)
		if err != nil {
			s.consoleError(w, r, c, err)
			return
		}
		for _, inv := range page.Items {
			rows = append(rows, []string{inv.Email, inv.FirstName, inv.LastName, string(inv.StatusAt(now)), inv.Role,
				strings.Join(inv.Groups, ";"), fmt.Sprint(inv.Admin), inv.Inviter.Email, csvTime(inv.CreatedAt),
				csvTime(inv.ExpiresAt), inv.DeliveryStatus, inv.DeliveryError, csvTime(inv.AcceptedAt), inv.Source})
		}
		if page.Next == nil {
			break
		}
		f.After = page.Next
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+c.slug+`-invitations.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write([]string{"email", "first_name", "last_name", "status", "role", "groups", "admin", "inviter",
		"invited_at", "valid_until", "delivery", "delivery_error", "accepted_at", "source"})
	for _, row := range rows {
		for i := range row {
			row[i] = neutralizeCell(row[i])
		}
		cw.Write(row)
	}
	cw.Flush()
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// neutralizeCell keeps a spreadsheet from reading a cell as a formula
// (CSV injection): a value starting with = + - @, a tab or a carriage
// return gets a leading single quote.
func neutralizeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// adminBulk resends or revokes the selected invitations.
func (s *server) adminBulk(w http.ResponseWriter, r *http.Request, c *console) {
	r.ParseForm()
	ids, action := r.PostForm["id"], r.PostFormValue("action")
	back := localPath(r.PostFormValue("back"), "/admin/orgs/"+c.slug+"/invitations")
	if len(ids) == 0 {
		s.setFlash(w, "bad", "Select at least one invitation first.")
		redirect(w, r, back)
		return
	}
	if len(ids) > 500 {
		ids = ids[:500]
	}
	var ok, failed int
	var lastErr error
	for _, id := range ids {
		var err error
		switch action {
		case "resend":
			_, err = s.svc.Resend(r.Context(), c.actor, c.slug, id)
		case "revoke":
			_, err = s.svc.Revoke(r.Context(), c.actor, c.slug, id)
		default:
			s.consoleError(w, r, c, errorf(invite.CodeValidation, "unknown bulk action"))
			return
		}
		if err != nil {
			if invite.CodeOf(err) == "" || invite.CodeOf(err) == invite.CodeForbidden {
				s.consoleError(w, r, c, err)
				return
			}
			failed, lastErr = failed+1, err
			continue
		}
		ok++
	}
	verb := map[string]string{"resend": "Resent", "revoke": "Revoked"}[action]
	msg := fmt.Sprintf("%s %d invitation%s.", verb, ok, plural(ok))
	kind := "ok"
	if failed > 0 {
		msg += fmt.Sprintf(" %d could not be changed (%s).", failed, s.messageOf(r, lastErr))
		kind = "bad"
	}
	s.setFlash(w, kind, msg)
	redirect(w, r, back)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// detailView is one invitation with its history.
type detailView struct {
	Inv     *invite.Invitation
	Status  invite.Status
	Events  []invite.Event
	Actions []invite.Action
	Link    string // a fresh link, shown once after "copy a fresh link"
	Roles   []account.Role
	Groups  []account.Group
	Errs    []account.FieldError
	Error   string
}

func (s *server) adminInvitation(w http.ResponseWriter, r *http.Request, c *console) {
	s.showInvitation(w, r, c, http.StatusOK, &detailView{})
}

func (s *server) showInvitation(w http.ResponseWriter, r *http.Request, c *console, status int, dv *detailView) {
	ctx := r.Context()
	inv, err := s.svc.Get(ctx, c.actor, c.slug, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	if dv.Events, err = s.svc.Events(ctx, c.actor, c.slug, inv.ID); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	if dv.Roles, err = s.svc.Roles(ctx, c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	if dv.Groups, err = s.svc.Groups(ctx, c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	dv.Inv, dv.Status = inv, inv.StatusAt(s.svc.Now())
	dv.Actions = invite.AllowedActions(dv.Status)
	s.render(w, r, status, "admin_invitation", c.page(inv.Email, dv))
}

// adminAction runs one row action on an invitation.
func (s *server) adminAction(w http.ResponseWriter, r *http.Request, c *console) {
	ctx, id, verb := r.Context(), r.PathValue("id"), r.PathValue("verb")
	back := localPath(r.PostFormValue("back"), "/admin/orgs/"+c.slug+"/invitations/"+id)
	var inv *invite.Invitation
	var err error
	switch verb {
	case "send", "resend", "link":
		var cr *invite.Created
		switch verb {
		case "send":
			cr, err = s.svc.Send(ctx, c.actor, c.slug, id)
		case "resend":
			cr, err = s.svc.Resend(ctx, c.actor, c.slug, id)
		default:
			cr, err = s.svc.NewLink(ctx, c.actor, c.slug, id)
		}
		if err == nil && verb == "link" {
			// Shown once, on this answer only; never stored in a cookie.
			s.showInvitation(w, r, c, http.StatusOK, &detailView{Link: cr.Link})
			return
		}
		if cr != nil {
			inv = cr.Invitation
		}
	case "renew":
		var cr *invite.Created
		if cr, err = s.svc.Renew(ctx, c.actor, c.slug, id, 0); cr != nil {
			inv = cr.Invitation
		}
	case "revoke":
		inv, err = s.svc.Revoke(ctx, c.actor, c.slug, id)
	case "approve":
		inv, err = s.svc.Approve(ctx, c.actor, c.slug, id)
	case "reject":
		inv, err = s.svc.Reject(ctx, c.actor, c.slug, id)
	case "edit":
		s.adminEdit(w, r, c)
		return
	default:
		s.consoleError(w, r, c, errorf(invite.CodeNotFound, "no such action"))
		return
	}
	if err != nil {
		s.finish(w, r, c, err, "", back)
		return
	}
	done := map[string]string{"send": "Sent the invitation to %s.", "resend": "Sent a new invitation link to %s.",
		"renew": "Extended the invitation of %s.", "revoke": "Revoked the invitation of %s.",
		"approve": "Approved %s: they are now a member.", "reject": "Rejected %s."}[verb]
	s.setFlash(w, "ok", fmt.Sprintf(done, inv.Email))
	redirect(w, r, back)
}

func (s *server) adminEdit(w http.ResponseWriter, r *http.Request, c *console) {
	r.ParseForm()
	f := r.PostForm
	e := invite.Edit{}
	str := func(name string) *string { v := strings.TrimSpace(f.Get(name)); return &v }
	e.FirstName, e.LastName, e.Role, e.Message, e.Language = str("first_name"), str("last_name"), str("role"), str("message"), str("language")
	groups := f["groups"]
	e.Groups = &groups
	admin := f.Get("admin") == "on"
	e.Admin = &admin
	if v := strings.TrimSpace(f.Get("valid_days")); v != "" {
		var days float64
		if _, err := fmt.Sscan(v, &days); err != nil || days <= 0 {
			s.showInvitation(w, r, c, http.StatusUnprocessableEntity, &detailView{Error: "Validity must be a number of days.",
				Errs: []account.FieldError{{Field: "valid_days", Message: "must be a number of days"}}})
			return
		}
		at := s.svc.Now().Add(time.Duration(days * float64(24*time.Hour)))
		e.ExpiresAt = &at
	}
	inv, err := s.svc.Edit(r.Context(), c.actor, c.slug, r.PathValue("id"), e)
	if err != nil {
		if replacesPage(err) {
			s.consoleError(w, r, c, err)
			return
		}
		s.showInvitation(w, r, c, problemFor(s.log, r, err).Status, &detailView{Error: s.messageOf(r, err), Errs: fieldsOf(err)})
		return
	}
	s.setFlash(w, "ok", "Saved the changes to the invitation of "+inv.Email+".")
	redirect(w, r, "/admin/orgs/"+c.slug+"/invitations/"+inv.ID)
}
