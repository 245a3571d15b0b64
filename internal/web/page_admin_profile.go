package web

import (
	"net/http"
	"strings"

	"usher/internal/account"
	"usher/internal/invite"
)

// profileView is a member's profile page: the member's own, or, for who
// manages members, anyone's, with the verification.
type profileView struct {
	Profile   *invite.Profile
	Email     string // whose
	Own       bool
	CanVerify bool
	Fields    invite.ProfileFields // as typed, when refused
	Errs      []account.FieldError
	Error     string
}

func (s *server) adminProfileRoutes(org func(pattern, nav string, h func(http.ResponseWriter, *http.Request, *console))) {
	org("GET /admin/orgs/{org}/profile", "profile", s.adminProfile)
	org("POST /admin/orgs/{org}/profile", "profile", s.adminProfileSave)
	org("GET /admin/orgs/{org}/members/{user_id}/profile", "members", s.adminProfile)
	org("POST /admin/orgs/{org}/members/{user_id}/profile", "members", s.adminProfileSave)
	org("POST /admin/orgs/{org}/members/{user_id}/profile/verify", "members", s.adminProfileVerify)
}

// profileUser is whose profile the request is about: the path's member,
// or the signed-in user's own.
func profileUser(r *http.Request, c *console) string {
	if id := r.PathValue("user_id"); id != "" {
		return id
	}
	return c.user.ID
}

func (s *server) adminProfile(w http.ResponseWriter, r *http.Request, c *console) {
	s.showProfile(w, r, c, http.StatusOK, &profileView{})
}

func (s *server) showProfile(w http.ResponseWriter, r *http.Request, c *console, status int, v *profileView) {
	userID := profileUser(r, c)
	p, err := s.svc.MemberProfile(r.Context(), c.actor, c.slug, userID)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	v.Profile, v.Own = p, userID == c.user.ID
	v.CanVerify = c.view.Can(string(account.PermManageMembers))
	v.Email = p.Email
	if v.Errs == nil && v.Error == "" {
		v.Fields = invite.ProfileFields{Phone: p.Phone, JobTitle: p.JobTitle, Department: p.Department, Address: p.Address}
	}
	title := "Your profile"
	if !v.Own {
		title = "Profile of " + v.Email
	}
	s.render(w, r, status, "admin_profile", c.page(title, v))
}

func (s *server) adminProfileSave(w http.ResponseWriter, r *http.Request, c *console) {
	f := invite.ProfileFields{Phone: r.PostFormValue("phone"), JobTitle: r.PostFormValue("job_title"),
		Department: r.PostFormValue("department"), Address: strings.ReplaceAll(r.PostFormValue("address"), "\r\n", "\n")}
	_, err := s.svc.UpdateProfile(r.Context(), c.actor, c.slug, profileUser(r, c), f)
	if err != nil {
		if replacesPage(err) {
			s.consoleError(w, r, c, err)
			return
		}
		s.showProfile(w, r, c, problemFor(s.log, r, err).Status, &profileView{Fields: f, Errs: fieldsOf(err), Error: "Please correct the fields marked below."})
		return
	}
	s.setFlash(w, "ok", "Saved the profile.")
	redirect(w, r, r.URL.Path)
}

func (s *server) adminProfileVerify(w http.ResponseWriter, r *http.Request, c *console) {
	_, err := s.svc.VerifyProfile(r.Context(), c.actor, c.slug, r.PathValue("user_id"))
	s.finish(w, r, c, err, "Marked the profile verified.", "/admin/orgs/"+c.slug+"/members/"+r.PathValue("user_id")+"/profile")
}
