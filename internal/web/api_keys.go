package web

import (
	"net/http"
	"time"

	"usher/internal/invite"
)

// apiKeyJSON is an API key as lists show it; the key itself only in the
// answer that made it.
type apiKeyJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Key       string    `json:"key,omitempty"`
}

func toAPIKeyJSON(k invite.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt}
}

func (s *server) listAPIKeys(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	keys, err := s.svc.APIKeys(r.Context(), a, r.PathValue("org"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]apiKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = toAPIKeyJSON(k)
	}
	encode(w, http.StatusOK, map[string]any{"data": out})
}

func (s *server) createAPIKey(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, key, err := s.svc.CreateAPIKey(r.Context(), r.PathValue("org"), body.Name, a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := toAPIKeyJSON(*key)
	out.CreatedBy, out.Key = a.Email, secret
	encode(w, http.StatusCreated, out)
}

func (s *server) revokeAPIKey(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	if err := s.svc.RevokeAPIKey(r.Context(), a, r.PathValue("org"), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
