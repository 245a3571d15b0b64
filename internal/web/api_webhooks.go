package web

import (
	"net/http"
	"strconv"

	"usher/internal/invite"
)

// webhookJSON is an endpoint as the API shows it; the secret only in the
// answer that made it.
type webhookJSON struct {
	invite.Webhook
	Secret string `json:"secret,omitempty"`
}

func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	hooks, err := s.svc.Webhooks(r.Context(), a, r.PathValue("org"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"data": hooks})
}

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		URL         string `json:"url"`
		Description string `json:"description"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	hook, err := s.svc.CreateWebhook(r.Context(), a, r.PathValue("org"), body.URL, body.Description)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusCreated, webhookJSON{Webhook: *hook, Secret: hook.Secret})
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	if err := s.svc.DeleteWebhook(r.Context(), a, r.PathValue("org"), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) webhookMessages(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.fail(w, r, errorf(invite.CodeValidation, "limit must be a number from 1 to 500"))
			return
		}
		limit = n
	}
	msgs, err := s.svc.WebhookMessages(r.Context(), a, r.PathValue("org"), r.PathValue("id"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"data": msgs})
}
