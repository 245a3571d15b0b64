package web

import (
	"encoding/json"
	"net/http"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

type memberJSON struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Role      string    `json:"role"`
	Groups    []string  `json:"groups"`
	Admin     bool      `json:"admin"`
	Active    bool      `json:"active"`
	Status    string    `json:"status"` // "member" (or, with include=pending, the invitation's status)
	Since     time.Time `json:"since"`
	// InvitationID is set for pending invitees.
	InvitationID string `json:"invitation_id,omitempty"`
}

func memberToJSON(m account.Member) memberJSON {
	groups := m.Groups
	if groups == nil {
		groups = []string{}
	}
	return memberJSON{UserID: m.UserID, Email: m.User.Email, Username: m.User.Username, FirstName: m.User.FirstName,
		LastName: m.User.LastName, Role: m.Role, Groups: groups, Admin: m.Admin, Active: m.Active, Status: "member", Since: m.CreatedAt}
}

func (s *server) listMembers(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	include := r.URL.Query().Get("include")
	if include != "" && include != "pending" {
		s.fail(w, r, errorf(invite.CodeValidation, "include may only be pending (the pending invitations too)",
			account.FieldError{Field: "include", Code: "invalid", Message: "may only be pending"}))
		return
	}
	pending := include == "pending"
	members, invs, err := s.svc.Members(r.Context(), a, r.PathValue("org"), pending)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Data []memberJSON `json:"data"`
	}{Data: []memberJSON{}}
	for _, m := range members {
		out.Data = append(out.Data, memberToJSON(m))
	}
	now := s.svc.Now()
	for _, inv := range invs {
		groups := inv.Groups
		if groups == nil {
			groups = []string{}
		}
		out.Data = append(out.Data, memberJSON{Email: inv.Email, Username: inv.Username, FirstName: inv.FirstName,
			LastName: inv.LastName, Role: inv.Role, Groups: groups, Admin: inv.Admin, Status: string(inv.StatusAt(now)),
			Since: inv.CreatedAt, InvitationID: inv.ID})
	}
	encode(w, http.StatusOK, out)
}

func (s *server) updateMember(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Role   *string   `json:"role"`
		Groups *[]string `json:"groups"`
		Admin  *bool     `json:"admin"`
		Active *bool     `json:"active"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.UpdateMember(r.Context(), a, r.PathValue("org"), r.PathValue("user_id"),
		invite.MemberChange{Role: body.Role, Groups: body.Groups, Admin: body.Admin, Active: body.Active})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, memberToJSON(*m))
}

func (s *server) removeMember(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	if err := s.svc.RemoveMember(r.Context(), a, r.PathValue("org"), r.PathValue("user_id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listGroups(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	groups, err := s.svc.Groups(r.Context(), a, r.PathValue("org"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if groups == nil {
		groups = []account.Group{}
	}
	encode(w, http.StatusOK, map[string]any{"data": groups})
}

func (s *server) createGroup(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := s.svc.CreateGroup(r.Context(), a, r.PathValue("org"), body.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusCreated, g)
}

func (s *server) deleteGroup(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	if err := s.svc.DeleteGroup(r.Context(), a, r.PathValue("org"), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listRoles(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	roles, err := s.svc.Roles(r.Context(), a, r.PathValue("org"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"data": roles})
}

func (s *server) createRole(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Name        string               `json:"name"`
		Permissions []account.Permission `json:"permissions"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	role, err := s.svc.CreateRole(r.Context(), a, r.PathValue("org"), body.Name, body.Permissions)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusCreated, role)
}

func (s *server) deleteRole(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	if err := s.svc.DeleteRole(r.Context(), a, r.PathValue("org"), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) getSettings(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	org, err := s.svc.Org(r.Context(), a, r.PathValue("org"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, org.Settings)
}

func (s *server) patchSettings(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var patch json.RawMessage
	if err := decode(w, r, &patch); err != nil {
		s.fail(w, r, err)
		return
	}
	org, err := s.svc.UpdateSettings(r.Context(), a, r.PathValue("org"), func(st *account.Settings) error {
		if err := json.Unmarshal(patch, st); err != nil {
			return decodeError(err, st)
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, org.Settings)
}

func (s *server) audit(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	entries, err := s.svc.Audit(r.Context(), a, r.PathValue("org"), 100, r.URL.Query().Get("before"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if entries == nil {
		entries = []invite.AuditEntry{}
	}
	encode(w, http.StatusOK, map[string]any{"data": entries})
}
