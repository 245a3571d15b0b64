package web

import (
	_ "embed"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"usher/internal/invite"
)

//go:embed openapi.json
var openapiJSON []byte

// routes lists every route usher serves. It returns the API's patterns,
// which a test holds against the OpenAPI document.
func (s *server) routes(mux *http.ServeMux, reg *prometheus.Registry) (apiPatterns []string) {
	// raw registers an API route that does its own authentication.
	raw := func(pattern string, h http.HandlerFunc) {
		apiPatterns = append(apiPatterns, pattern)
		mux.HandleFunc(pattern, h)
	}
	api := func(pattern string, h http.Handler) { raw(pattern, s.withActor(h).ServeHTTP) }
	org := func(pattern string, h func(http.ResponseWriter, *http.Request, invite.Actor)) {
		api(pattern, s.authed(h))
	}
	post := func(pattern string, h func(http.ResponseWriter, *http.Request, invite.Actor)) {
		org(pattern, s.idempotent(h))
	}

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", metricsHandler(reg))
	raw("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapiJSON)
	})

	// The invitee's (the token is the credential).
	api("GET /api/v1/invitations/lookup", http.HandlerFunc(s.lookup))
	api("POST /api/v1/invitations/accept", s.idempotentPublic(s.accept))
	api("POST /api/v1/invitations/decline", s.idempotentPublic(s.decline))

	// Sessions and the built-in mailbox.
	raw("POST /api/v1/session", s.apiSignIn)
	raw("DELETE /api/v1/session", s.apiSignOut)
	org("GET /api/v1/mailbox", s.mailbox)

	// Organization-scoped.
	org("GET /api/v1/orgs/{org}/availability", s.availability)
	post("POST /api/v1/orgs/{org}/invitations", s.createInvitation)
	post("POST /api/v1/orgs/{org}/invitations/batch", s.batchInvitations)
	post("POST /api/v1/orgs/{org}/invitations/redeem", s.redeem)
	org("GET /api/v1/orgs/{org}/invitations", s.listInvitations)
	org("GET /api/v1/orgs/{org}/invitations/{id}", s.getInvitation)
	org("PATCH /api/v1/orgs/{org}/invitations/{id}", s.editInvitation)
	org("GET /api/v1/orgs/{org}/invitations/{id}/events", s.invitationEvents)
	for _, verb := range []string{"send", "resend", "renew", "revoke", "approve", "reject", "link"} {
		post("POST /api/v1/orgs/{org}/invitations/{id}/"+verb, s.action(verb))
	}
	org("GET /api/v1/orgs/{org}/members", s.listMembers)
	org("PATCH /api/v1/orgs/{org}/members/{user_id}", s.updateMember)
	org("DELETE /api/v1/orgs/{org}/members/{user_id}", s.removeMember)
	org("GET /api/v1/orgs/{org}/members/{user_id}/profile", s.getProfile)
	org("PUT /api/v1/orgs/{org}/members/{user_id}/profile", s.putProfile)
	post("POST /api/v1/orgs/{org}/members/{user_id}/profile/verify", s.verifyProfile)
	org("GET /api/v1/orgs/{org}/groups", s.listGroups)
	post("POST /api/v1/orgs/{org}/groups", s.createGroup)
	org("DELETE /api/v1/orgs/{org}/groups/{id}", s.deleteGroup)
	org("GET /api/v1/orgs/{org}/roles", s.listRoles)
	post("POST /api/v1/orgs/{org}/roles", s.createRole)
	org("DELETE /api/v1/orgs/{org}/roles/{name}", s.deleteRole)
	org("GET /api/v1/orgs/{org}/settings", s.getSettings)
	org("PATCH /api/v1/orgs/{org}/settings", s.patchSettings)
	org("GET /api/v1/orgs/{org}/audit", s.audit)
	org("GET /api/v1/orgs/{org}/api-keys", s.listAPIKeys)
	// Making a key or a webhook answers a secret, which an idempotent
	// replay would have to keep: these two take no Idempotency-Key.
	org("POST /api/v1/orgs/{org}/api-keys", s.createAPIKey)
	org("DELETE /api/v1/orgs/{org}/api-keys/{id}", s.revokeAPIKey)
	org("GET /api/v1/orgs/{org}/webhooks", s.listWebhooks)
	org("POST /api/v1/orgs/{org}/webhooks", s.createWebhook)
	org("DELETE /api/v1/orgs/{org}/webhooks/{id}", s.deleteWebhook)
	org("GET /api/v1/orgs/{org}/webhooks/{id}/messages", s.webhookMessages)

	raw("GET /api/v1/import-template.csv", s.importTemplateCSV)
	raw("GET /api/v1/import-template.xlsx", s.importTemplateXLSX)
	s.importRoutes(org, post)
	s.pageRoutes(mux)

	// Anything else under the API is a problem+json 404, or 405 when the
	// path exists with other methods.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, errorf(codeMethodNotAllowed, r.Method+" is not allowed here; use "+strings.Join(allow, " or ")))
			return
		}
		s.fail(w, r, errorf(invite.CodeNotFound, "no such API route: "+r.Method+" "+r.URL.Path))
	})
	return apiPatterns
}

// allowedMethods lists the methods a registered API route serves at r's
// path (none: the path is unknown).
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/api/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}
