package web

import (
	"net/http"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

type lookupJSON struct {
	Status        invite.Status  `json:"status"`
	Organization  orgPublicJSON  `json:"organization"`
	Inviter       inviterJSON    `json:"inviter"`
	Email         string         `json:"email"`
	FirstName     string         `json:"first_name"`
	LastName      string         `json:"last_name"`
	Message       string         `json:"message"`
	Role          string         `json:"role"`
	Groups        []string       `json:"groups"`
	Admin         bool           `json:"admin"`
	ExpiresAt     *time.Time     `json:"expires_at"`
	AccountExists bool           `json:"account_exists"`
	PasswordRules []account.Rule `json:"password_rules"`
}

type orgPublicJSON struct {
	Name       string `json:"name"`
	BrandColor string `json:"brand_color"`
}

type inviterJSON struct {
	Name string `json:"name"`
}

func lookupToJSON(info *invite.LinkInfo) lookupJSON {
	inv := info.Invitation
	groups := inv.Groups
	if groups == nil {
		groups = []string{}
	}
	return lookupJSON{Status: info.Status, Organization: orgPublicJSON{Name: info.Org.Name, BrandColor: info.Org.Settings.BrandColor},
		Inviter: inviterJSON{Name: info.Inviter.Name}, Email: inv.Email, FirstName: inv.FirstName, LastName: inv.LastName,
		Message: inv.Message, Role: inv.Role, Groups: groups, Admin: inv.Admin, ExpiresAt: optTime(inv.ExpiresAt),
		AccountExists: info.AccountExists, PasswordRules: info.Rules}
}

// tokenKey is what the per-token rate limit keys on: the token's hash, so
// that no token sits in memory in clear.
func tokenKey(token string) string { return invite.HashToken(token) }

func (s *server) lookup(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !s.throttle(w, r, "lookup", tokenKey(token)) {
		return
	}
	info, err := s.svc.Lookup(r.Context(), token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, lookupToJSON(info))
}

func (s *server) accept(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token     string `json:"token"`
		Password  string `json:"password"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.throttle(w, r, "accept", tokenKey(body.Token)) {
		return
	}
	reg := invite.Registration{Password: body.Password, FirstName: body.FirstName, LastName: body.LastName}
	if u, ok := s.sessionUser(w, r); ok {
		reg.SignedIn = u
	}
	acc, err := s.svc.Accept(r.Context(), body.Token, reg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"status": acc.Status, "user": userToJSON(acc.User),
		"organization": acc.Org.Slug, "redirect_url": optStr(acc.RedirectURL)})
}

func (s *server) decline(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.throttle(w, r, "accept", tokenKey(body.Token)) {
		return
	}
	inv, err := s.svc.Decline(r.Context(), body.Token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"status": inv.Status})
}
