package web

import (
	"net/http"
	"strings"

	"usher/internal/invite"
)

// webhooksView is the webhooks page: the endpoints, the form to add one
// (as typed, when refused) and, right after adding, its secret.
type webhooksView struct {
	Hooks       []invite.Webhook
	URL         string
	Description string
	Error       string
	Created     *invite.Webhook // just added: its secret is shown once
}

// webhookView is one endpoint's page: its latest messages.
type webhookView struct {
	Hook     invite.Webhook
	Messages []invite.WebhookMessage
}

func (s *server) adminWebhookRoutes(org func(pattern, nav string, h func(http.ResponseWriter, *http.Request, *console))) {
	org("GET /admin/orgs/{org}/webhooks", "webhooks", s.adminWebhooks)
	org("POST /admin/orgs/{org}/webhooks", "webhooks", s.adminWebhookCreate)
	org("GET /admin/orgs/{org}/webhooks/{id}", "webhooks", s.adminWebhook)
	org("POST /admin/orgs/{org}/webhooks/{id}/delete", "webhooks", s.adminWebhookDelete)
}

func (s *server) adminWebhooks(w http.ResponseWriter, r *http.Request, c *console) {
	s.showWebhooks(w, r, c, http.StatusOK, &webhooksView{})
}

func (s *server) showWebhooks(w http.ResponseWriter, r *http.Request, c *console, status int, wv *webhooksView) {
	var err error
	if wv.Hooks, err = s.svc.Webhooks(r.Context(), c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	s.render(w, r, status, "admin_webhooks", c.page("Webhooks", wv))
}

func (s *server) adminWebhookCreate(w http.ResponseWriter, r *http.Request, c *console) {
	url, desc := strings.TrimSpace(r.PostFormValue("url")), strings.TrimSpace(r.PostFormValue("description"))
	hook, err := s.svc.CreateWebhook(r.Context(), c.actor, c.slug, url, desc)
	if err != nil {
		if replacesPage(err) {
			s.consoleError(w, r, c, err)
			return
		}
		s.showWebhooks(w, r, c, problemFor(s.log, r, err).Status, &webhooksView{URL: url, Description: desc, Error: s.messageOf(r, err)})
		return
	}
	// The secret is shown on this answer only (not through a redirect's
	// cookie), as an API key is.
	s.showWebhooks(w, r, c, http.StatusCreated, &webhooksView{Created: hook})
}

func (s *server) adminWebhook(w http.ResponseWriter, r *http.Request, c *console) {
	id := r.PathValue("id")
	hooks, err := s.svc.Webhooks(r.Context(), c.actor, c.slug)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	v := &webhookView{}
	for _, h := range hooks {
		if h.ID == id {
			v.Hook = h
		}
	}
	if v.Hook.ID == "" {
		s.consoleError(w, r, c, errorf(invite.CodeNotFound, "no such webhook"))
		return
	}
	if v.Messages, err = s.svc.WebhookMessages(r.Context(), c.actor, c.slug, id, 100); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_webhook", c.page("Webhook", v))
}

func (s *server) adminWebhookDelete(w http.ResponseWriter, r *http.Request, c *console) {
	err := s.svc.DeleteWebhook(r.Context(), c.actor, c.slug, r.PathValue("id"))
	s.finish(w, r, c, err, "Deleted the webhook endpoint.", "/admin/orgs/"+c.slug+"/webhooks")
}
