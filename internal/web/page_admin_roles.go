package web

import (
	"net/http"
	"strings"

	"usher/internal/account"
	"usher/internal/invite"
)

// rolesView is the roles page: every role, and the form to add one (as
// typed, when refused).
type rolesView struct {
	Roles       []account.Role
	Permissions []account.Permission // every one, in display order
	Name        string
	Checked     []string
	Error       string
}

func (s *server) adminRoleRoutes(org func(pattern, nav string, h func(http.ResponseWriter, *http.Request, *console))) {
	org("GET /admin/orgs/{org}/roles", "roles", s.adminRoles)
	org("POST /admin/orgs/{org}/roles", "roles", s.adminRoleCreate)
	org("POST /admin/orgs/{org}/roles/{name}/delete", "roles", s.adminRoleDelete)
}

func (s *server) adminRoles(w http.ResponseWriter, r *http.Request, c *console) {
	if !c.view.Can(string(account.PermManageSettings)) {
		s.consoleError(w, r, c, errorf(invite.CodeForbidden, "you need the settings.manage permission in this organization"))
		return
	}
	s.showRoles(w, r, c, http.StatusOK, &rolesView{})
}

func (s *server) showRoles(w http.ResponseWriter, r *http.Request, c *console, status int, v *rolesView) {
	var err error
	if v.Roles, err = s.svc.Roles(r.Context(), c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	v.Permissions = account.AllPermissions
	s.render(w, r, status, "admin_roles", c.page("Roles", v))
}

func (s *server) adminRoleCreate(w http.ResponseWriter, r *http.Request, c *console) {
	if err := r.ParseForm(); err != nil {
		s.consoleError(w, r, c, errorf(invite.CodeValidation, "the form could not be read"))
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	var perms []account.Permission
	for _, p := range r.PostForm["permissions"] {
		perms = append(perms, account.Permission(p))
	}
	role, err := s.svc.CreateRole(r.Context(), c.actor, c.slug, name, perms)
	if err != nil {
		if replacesPage(err) {
			s.consoleError(w, r, c, err)
			return
		}
		s.showRoles(w, r, c, problemFor(s.log, r, err).Status, &rolesView{Name: name, Checked: r.PostForm["permissions"], Error: s.messageOf(r, err)})
		return
	}
	s.setFlash(w, "ok", "Added the role "+role.Name+".")
	redirect(w, r, "/admin/orgs/"+c.slug+"/roles")
}

func (s *server) adminRoleDelete(w http.ResponseWriter, r *http.Request, c *console) {
	err := s.svc.DeleteRole(r.Context(), c.actor, c.slug, r.PathValue("name"))
	s.finish(w, r, c, err, "Deleted the role.", "/admin/orgs/"+c.slug+"/roles")
}
