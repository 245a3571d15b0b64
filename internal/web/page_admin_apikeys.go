package web

import (
	"net/http"
	"strings"

	"usher/internal/invite"
)

// apiKeysView is the API keys page: the working keys, the form to make
// one (as typed, when refused) and, right after making it, the key.
type apiKeysView struct {
	Keys    []invite.APIKey
	Name    string
	Error   string
	Created *createdKey // just made: shown once
}

type createdKey struct {
	Name, Key string
}

func (s *server) adminAPIKeyRoutes(org func(pattern, nav string, h func(http.ResponseWriter, *http.Request, *console))) {
	org("GET /admin/orgs/{org}/api-keys", "api-keys", s.adminAPIKeys)
	org("POST /admin/orgs/{org}/api-keys", "api-keys", s.adminAPIKeyCreate)
	org("POST /admin/orgs/{org}/api-keys/{id}/revoke", "api-keys", s.adminAPIKeyRevoke)
}

func (s *server) adminAPIKeys(w http.ResponseWriter, r *http.Request, c *console) {
	s.showAPIKeys(w, r, c, http.StatusOK, &apiKeysView{})
}

func (s *server) showAPIKeys(w http.ResponseWriter, r *http.Request, c *console, status int, v *apiKeysView) {
	var err error
	if v.Keys, err = s.svc.APIKeys(r.Context(), c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	s.render(w, r, status, "admin_apikeys", c.page("API keys", v))
}

func (s *server) adminAPIKeyCreate(w http.ResponseWriter, r *http.Request, c *console) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	secret, _, err := s.svc.CreateAPIKey(r.Context(), c.slug, name, c.actor)
	if err != nil {
		if replacesPage(err) {
			s.consoleError(w, r, c, err)
			return
		}
		s.showAPIKeys(w, r, c, problemFor(s.log, r, err).Status, &apiKeysView{Name: name, Error: s.messageOf(r, err)})
		return
	}
	// The key is shown on this answer only, never through a redirect.
	s.showAPIKeys(w, r, c, http.StatusCreated, &apiKeysView{Created: &createdKey{Name: name, Key: secret}})
}

func (s *server) adminAPIKeyRevoke(w http.ResponseWriter, r *http.Request, c *console) {
	err := s.svc.RevokeAPIKey(r.Context(), c.actor, c.slug, r.PathValue("id"))
	s.finish(w, r, c, err, "Revoked the API key: it no longer works.", "/admin/orgs/"+c.slug+"/api-keys")
}
