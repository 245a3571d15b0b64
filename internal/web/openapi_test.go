package web_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
	"usher/internal/web"
)

// openapiFile is the document the server embeds and serves.
const openapiFile = "openapi.json"

// violatesOpenAPI marks a request a test sends against the document on
// purpose (an unknown field, no credentials): the validating transport
// strips it, and then requires the request to fail validation, so that
// the document is shown to refuse what the server refuses.
const violatesOpenAPI = "X-Test-Violates-Openapi"

// pendingImports are the import operations of api.md, documented before
// their handlers were all registered, in two groups: the organization's
// import routes, and the public templates. A group is excused from being
// served only while none of its routes is registered; once one is, every
// one of them must be served exactly as documented.
//
// The templates' handlers (importTemplateCSV, importTemplateXLSX in
// api_imports.go) exist but are not registered yet: register them in
// routes.go with raw(...), and this test then requires both, as
// documented.
var pendingImports = map[string]string{
	"POST /api/v1/orgs/{org}/imports":             "imports",
	"GET /api/v1/orgs/{org}/imports/{id}":         "imports",
	"GET /api/v1/orgs/{org}/imports/{id}/rows":    "imports",
	"POST /api/v1/orgs/{org}/imports/{id}/commit": "imports",
	"GET /api/v1/import-template.csv":             "templates",
	"GET /api/v1/import-template.xlsx":            "templates",
}

// pendingOps returns the documented operations excused from being served:
// those of a pending group none of whose routes is registered.
func pendingOps(registered []string) map[string]bool {
	started := map[string]bool{}
	for _, p := range registered {
		if key, err := openapiKey(p); err == nil && pendingImports[key] != "" {
			started[pendingImports[key]] = true
		}
	}
	excused := map[string]bool{}
	for key, group := range pendingImports {
		if !started[group] {
			excused[key] = true
		}
	}
	return excused
}

var loadOpenAPI = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openapiFile)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", openapiFile, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate %s: %w", openapiFile, err)
	}
	return doc, nil
})

func openapiDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := loadOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// documented returns every operation of doc as "METHOD /path".
func documented(doc *openapi3.T) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	return ops
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := openapiDoc(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	ids := map[string]string{}
	for key, op := range documented(doc) {
		if op.OperationID == "" {
			t.Errorf("%s has no operationId", key)
		} else if prev, ok := ids[op.OperationID]; ok {
			t.Errorf("operationId %q is used by %s and %s", op.OperationID, prev, key)
		}
		ids[op.OperationID] = key
		if op.Responses.Value("500") == nil {
			t.Errorf("%s does not document the 500 problem", key)
		}
	}
}

// goPattern matches a ServeMux wildcard: {name}, {name...} or {$}.
var goPattern = regexp.MustCompile(`\{(\$|[A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`)

// openapiKey turns a ServeMux pattern ("GET /api/v1/orgs/{org}/x") into
// the document's "METHOD /path" form.
func openapiKey(pattern string) (string, error) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("pattern %q has no method", pattern)
	}
	path = goPattern.ReplaceAllStringFunc(path, func(w string) string {
		if w == "{$}" {
			return ""
		}
		return "{" + strings.TrimSuffix(strings.Trim(w, "{}"), "...") + "}"
	})
	return method + " " + path, nil
}

func TestOpenAPICoverage(t *testing.T) {
	t.Parallel()
	ops := documented(openapiDoc(t))
	registered := web.APIPatterns()
	served := map[string]bool{}
	for _, p := range registered {
		key, err := openapiKey(p)
		if err != nil {
			t.Error(err)
			continue
		}
		served[key] = true
		if ops[key] == nil {
			t.Errorf("%s is served but not in %s", key, openapiFile)
		}
	}
	pending := pendingOps(registered)
	for key := range ops {
		switch {
		case served[key]:
		case pending[key]:
			t.Logf("%s: documented, not served yet (pending: %s)", key, pendingImports[key])
		default:
			t.Errorf("%s is in %s but not served (an API route must be registered through routes' raw/api/org/post helpers to be seen)", key, openapiFile)
		}
	}
}

// openapiCheck is an http.RoundTripper that validates every request and
// response against the document, failing the test with the operation and
// the validation error. It also records which operations answered what.
type openapiCheck struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	next   http.RoundTripper

	mu       sync.Mutex
	statuses map[string][]int // "METHOD /path" → statuses answered
}

// validateOpenAPI makes every request ev's client sends go through an
// openapiCheck.
func validateOpenAPI(t *testing.T, ev *env) *openapiCheck {
	t.Helper()
	doc := openapiDoc(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	next := ev.client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := &openapiCheck{t: t, doc: doc, router: router, next: next, statuses: map[string][]int{}}
	ev.client.Transport = c
	return c
}

var filterOptions = &openapi3filter.Options{
	IncludeResponseStatus: true, // an undocumented status fails
	MultiError:            true,
	AuthenticationFunc:    credentialsPresent,
}

// credentialsPresent checks that a request carries the credential a
// security scheme names (whether it is valid is the server's business).
func credentialsPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, s := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case s.Type == "http" && s.Scheme == "bearer":
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return errors.New("no Authorization: Bearer")
		}
	case s.Type == "apiKey" && s.In == "cookie":
		if _, err := r.Cookie(s.Name); err != nil {
			return fmt.Errorf("no %s cookie", s.Name)
		}
	default:
		return fmt.Errorf("security scheme %s is not checked by this test", in.SecuritySchemeName)
	}
	return nil
}

func (c *openapiCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	violates := req.Header.Get(violatesOpenAPI) != ""
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	clone := func() *http.Request {
		r := req.Clone(req.Context())
		r.Header.Del(violatesOpenAPI)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		return r
	}
	send, check := clone(), clone()
	call := req.Method + " " + req.URL.RequestURI()
	if len(call) > 200 {
		call = call[:200] + "…"
	}

	route, params, err := c.router.FindRoute(check)
	if err != nil {
		c.t.Errorf("%s: no operation in %s: %v", call, openapiFile, err)
		return c.next.RoundTrip(send)
	}
	op := route.Method + " " + route.Path
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: filterOptions}
	reqErr := openapi3filter.ValidateRequest(req.Context(), in)
	switch {
	case reqErr != nil && !violates:
		c.t.Errorf("%s (%s): the request does not match %s: %v", op, call, openapiFile, reqErr)
	case reqErr == nil && violates:
		c.t.Errorf("%s (%s): the request was sent against %s on purpose, but the document allows it", op, call, openapiFile)
	}

	res, err := c.next.RoundTrip(send)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(got))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode,
		Header: res.Header, Body: io.NopCloser(bytes.NewReader(got)), Options: filterOptions}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		shown := got
		if len(shown) > 2000 {
			shown = shown[:2000]
		}
		c.t.Errorf("%s (%s) answered %d, which does not match %s: %v\nbody: %s", op, call, res.StatusCode, openapiFile, err, shown)
	}
	c.mu.Lock()
	c.statuses[op] = append(c.statuses[op], res.StatusCode)
	c.mu.Unlock()
	return res, nil
}

// requireExercised fails the test for every documented operation that did
// not answer a success at least once (the pending operations excepted).
func (c *openapiCheck) requireExercised(pending map[string]bool) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for key := range documented(c.doc) {
		if pending[key] {
			continue
		}
		ok := slices.ContainsFunc(c.statuses[key], func(s int) bool { return s >= 200 && s < 300 })
		if !ok {
			c.t.Errorf("%s was never answered with a success (statuses seen: %v)", key, c.statuses[key])
		}
	}
}

func TestOpenAPIFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		ev := newEnv(t, e)
		check := validateOpenAPI(t, ev)
		openapiFlow(t, ev)
		pending := pendingOps(web.APIPatterns())
		importFlow(t, ev, pending)
		check.requireExercised(pending)
	})
}

// tokenOf returns the token of an accept link (…/i/<token>).
func tokenOf(t *testing.T, link any) string {
	t.Helper()
	s, _ := link.(string)
	_, tok, ok := strings.Cut(s, "/i/")
	if !ok || tok == "" {
		t.Fatalf("link %q has no token", s)
	}
	return tok
}

// field reads a string field of a decoded object.
func field(t *testing.T, m map[string]any, name string) string {
	t.Helper()
	s, ok := m[name].(string)
	if !ok {
		t.Fatalf("%s = %#v, want a string; in %v", name, m[name], m)
	}
	return s
}

// openapiFlow scripts the lifecycle through every operation of the
// document, with the typical failures, so that the validating transport
// sees a real answer of each.
func openapiFlow(t *testing.T, ev *env) {
	bad := []string{violatesOpenAPI, "1"}
	const acme = "/api/v1/orgs/acme"
	lookup := func(token string) response {
		return ev.do("GET", "/api/v1/invitations/lookup?token="+url.QueryEscape(token), "", nil)
	}
	inviteOne := func(body map[string]any) map[string]any {
		t.Helper()
		return ev.want(ev.do("POST", acme+"/invitations", ev.key, body), http.StatusCreated, "")
	}
	act := func(id, verb string, body any, headers ...string) response {
		return ev.do("POST", acme+"/invitations/"+id+"/"+verb, ev.key, body, headers...)
	}

	// The document the server serves is the file.
	r := ev.do("GET", "/api/v1/openapi.json", "", nil)
	ev.want(r, http.StatusOK, "")
	file, err := os.ReadFile(openapiFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, file) {
		t.Errorf("GET /api/v1/openapi.json differs from %s", openapiFile)
	}

	// A second organization, with its own key.
	if _, err := ev.svc.CreateUser(ev.ctx, "owner@other.test", "another long passphrase", false); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.svc.CreateOrg(ev.ctx, "Other", "other", "owner@other.test"); err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := ev.svc.CreateAPIKey(ev.ctx, "other", "test", invite.System)
	if err != nil {
		t.Fatal(err)
	}

	// Availability.
	av := ev.want(ev.do("GET", acme+"/availability?email=ana@example.com&username=ana", ev.key, nil), http.StatusOK, "")
	if av["email"] != "free" || av["username"] != "free" {
		t.Errorf("availability = %v, want free and free", av)
	}
	ev.want(ev.do("GET", acme+"/availability?email=not-an-address", ev.key, nil), http.StatusUnprocessableEntity, "invalid_email")
	ev.want(ev.do("GET", acme+"/availability", ev.key, nil, bad...), http.StatusUnprocessableEntity, "invalid_email")

	// Invite one, and the ways that fails.
	ana := inviteOne(map[string]any{"email": "ana@example.com", "first_name": "Ana", "last_name": "Silva",
		"language": "nl-BE", "groups": []string{"Neighborhood A"}, "message": "Welcome!", "metadata": map[string]any{"crm": "42"},
		"redirect_url": "https://app.example.com/welcome"})
	anaID, anaLink := field(t, ana, "id"), field(t, ana, "link")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "ANA@example.com"}), http.StatusConflict, "already_invited")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "not an address"}), http.StatusUnprocessableEntity, "invalid_email")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "x@example.com", "groups": []string{"Nowhere"}}),
		http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "x@example.com", "colour": "red"}, bad...),
		http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "x@example.com", "admin": "yes"}, bad...),
		http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("POST", acme+"/invitations", "", map[string]any{"email": "x@example.com"}, bad...), http.StatusUnauthorized, "unauthorized")
	ev.want(ev.do("POST", acme+"/invitations", "not-a-key", map[string]any{"email": "x@example.com"}), http.StatusUnauthorized, "unauthorized")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, `email=x@example.com`, "Content-Type", "text/plain", bad[0], bad[1]),
		http.StatusUnsupportedMediaType, "unsupported_file")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "x@example.com", "message": strings.Repeat("a", 1<<20)}),
		http.StatusRequestEntityTooLarge, "payload_too_large")
	ev.want(ev.do("POST", "/api/v1/orgs/other/invitations", ev.key, map[string]any{"email": "x@example.com"}), http.StatusNotFound, "not_found")

	// Idempotency-Key.
	bobBody := map[string]any{"email": "bob@example.com", "send_email": false}
	bob := ev.want(ev.do("POST", acme+"/invitations", ev.key, bobBody, "Idempotency-Key", "bob-1"), http.StatusCreated, "")
	r = ev.do("POST", acme+"/invitations", ev.key, bobBody, "Idempotency-Key", "bob-1")
	if again := ev.want(r, http.StatusCreated, ""); again["id"] != bob["id"] || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed create = %v (Idempotent-Replayed %q), want invitation %v again", again["id"], r.Header.Get("Idempotent-Replayed"), bob["id"])
	}
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "bob2@example.com"}, "Idempotency-Key", "bob-1"),
		http.StatusUnprocessableEntity, "idempotency_conflict")
	bobID := field(t, bob, "id")

	// Batch.
	batch := ev.want(ev.do("POST", acme+"/invitations/batch", ev.key, map[string]any{
		"emails": "carl@example.com, not-an-address; ana@example.com\ncarl@example.com", "groups": []string{"Neighborhood A"}}), http.StatusOK, "")
	totals, _ := batch["totals"].(map[string]any)
	for _, o := range []string{"invited", "invalid_email", "already_invited", "duplicate"} {
		if totals[o] != 1.0 {
			t.Errorf("batch totals = %v, want 1 %s", totals, o)
		}
	}
	results, _ := batch["results"].([]any)
	first, _ := results[0].(map[string]any)
	carl, _ := first["invitation"].(map[string]any)
	carlLink := field(t, carl, "link")
	batch = ev.want(ev.do("POST", acme+"/invitations/batch", ev.key, map[string]any{"emails": []string{"bob@example.com"}, "on_existing": "resend"}),
		http.StatusOK, "")
	if totals, _ := batch["totals"].(map[string]any); totals["resent"] != 1.0 {
		t.Errorf("batch resend totals = %v, want 1 resent", totals)
	}
	ev.want(ev.do("POST", acme+"/invitations/batch", ev.key, map[string]any{"emails": []string{"dan@example.com"}, "on_existing": "overwrite"}, bad...),
		http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("POST", acme+"/invitations/batch", ev.key, map[string]any{"emails": 42}, bad...), http.StatusUnprocessableEntity, "validation_failed")

	// List and search.
	list := ev.want(ev.do("GET", acme+"/invitations?status=pending&status=draft&sort=email&limit=1", ev.key, nil), http.StatusOK, "")
	next, ok := list["next_cursor"].(string)
	if !ok || list["total"] != 3.0 {
		t.Fatalf("first page = %v, want a next_cursor and total 3", list)
	}
	ev.want(ev.do("GET", acme+"/invitations?status=pending,draft&sort=email&limit=1&cursor="+url.QueryEscape(next), ev.key, nil), http.StatusOK, "")
	if found := ev.want(ev.do("GET", acme+"/invitations?q=silva", ev.key, nil), http.StatusOK, ""); found["total"] != 1.0 {
		t.Errorf("q=silva total = %v, want 1", found["total"])
	}
	ev.want(ev.do("GET", acme+"/invitations?limit=0", ev.key, nil, bad...), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("GET", acme+"/invitations?sort=size", ev.key, nil, bad...), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("GET", acme+"/invitations?status=lost", ev.key, nil), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("GET", acme+"/invitations?cursor=nonsense", ev.key, nil), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("GET", acme+"/invitations", "", nil, bad...), http.StatusUnauthorized, "unauthorized")

	// One, edit, history; another organization's key sees nothing.
	ev.want(ev.do("GET", acme+"/invitations/"+anaID, ev.key, nil), http.StatusOK, "")
	ev.want(ev.do("GET", acme+"/invitations/"+anaID, otherKey, nil), http.StatusNotFound, "not_found")
	r = ev.do("GET", "/api/v1/orgs/other/invitations/"+anaID, otherKey, nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("another organization's invitation: status %d, want 404", r.Status)
	}
	ev.want(ev.do("PATCH", acme+"/invitations/"+anaID, ev.key, map[string]any{"first_name": "Ana Maria", "role": "member"}), http.StatusOK, "")
	ev.want(ev.do("PATCH", acme+"/invitations/"+anaID, ev.key, map[string]any{"role": "emperor"}), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("PATCH", acme+"/invitations/"+anaID, ev.key, map[string]any{"email": "ana2@example.com"}, bad...),
		http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("PATCH", acme+"/invitations/"+anaID, otherKey, map[string]any{"first_name": "Eve"}), http.StatusNotFound, "not_found")
	r = ev.do("GET", acme+"/invitations/"+anaID+"/events", ev.key, nil)
	if r.Status != http.StatusOK || !bytes.HasPrefix(r.Body, []byte("[")) {
		t.Errorf("events: %d %s, want 200 and an array", r.Status, r.Body)
	}
	ev.want(ev.do("GET", acme+"/invitations/"+anaID+"/events", otherKey, nil), http.StatusNotFound, "not_found")

	// A draft, then sent.
	dora := inviteOne(map[string]any{"email": "dora@example.com", "draft": true})
	doraID := field(t, dora, "id")
	if dora["status"] != "draft" {
		t.Errorf("draft status = %v", dora["status"])
	}
	dora = ev.want(act(doraID, "send", nil), http.StatusOK, "")
	doraLink := field(t, dora, "link")
	ev.want(act(doraID, "send", nil), http.StatusConflict, "invalid_transition")

	// Resend and link rotate the token; the old one answers superseded.
	re := ev.want(act(anaID, "resend", nil), http.StatusOK, "")
	ev.want(lookup(tokenOf(t, anaLink)), http.StatusGone, "invitation_superseded")
	anaLink = field(t, re, "link")
	lk := ev.want(act(anaID, "link", nil), http.StatusOK, "")
	ev.want(lookup(tokenOf(t, anaLink)), http.StatusGone, "invitation_superseded")
	anaLink = field(t, lk, "link")
	ev.want(act(anaID, "renew", map[string]any{"expires_in": 7200}), http.StatusOK, "")
	ev.want(act(anaID, "renew", nil), http.StatusOK, "")
	ev.want(act(anaID, "renew", map[string]any{"expires_in": 60}), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(act(anaID, "renew", map[string]any{"days": 3}, bad...), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(act("no-such-invitation", "resend", nil), http.StatusNotFound, "")

	// The invitee: look up, accept with a weak then a good password.
	info := ev.want(lookup(tokenOf(t, anaLink)), http.StatusOK, "")
	if info["email"] != "ana@example.com" || info["account_exists"] != false {
		t.Errorf("lookup = %v", info)
	}
	ev.want(lookup("not-a-token"), http.StatusNotFound, "invitation_not_found")
	anaTok := tokenOf(t, anaLink)
	ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": anaTok, "password": "password"}),
		http.StatusUnprocessableEntity, "weak_password")
	ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": anaTok}, bad...), http.StatusUnprocessableEntity, "weak_password")
	accBody := map[string]any{"token": anaTok, "password": "a long enough passphrase"}
	acc := ev.want(ev.do("POST", "/api/v1/invitations/accept", "", accBody, "Idempotency-Key", "accept-1"), http.StatusOK, "")
	if acc["status"] != "accepted" || acc["organization"] != "acme" || acc["redirect_url"] != "https://app.example.com/welcome" {
		t.Errorf("accept = %v", acc)
	}
	anaUser, _ := acc["user"].(map[string]any)
	anaUserID := field(t, anaUser, "id")
	// A client that lost the answer asks again with its key: the same
	// answer, not invitation_used.
	again := ev.do("POST", "/api/v1/invitations/accept", "", accBody, "Idempotency-Key", "accept-1")
	if again.Status != http.StatusOK || again.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(again.Body), anaUserID) {
		t.Errorf("accept again with its key = %d %s", again.Status, again.Body)
	}
	ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": anaTok, "password": "a long enough passphrase"}),
		http.StatusConflict, "invitation_used")
	ev.want(ev.do("PATCH", acme+"/invitations/"+anaID, ev.key, map[string]any{"first_name": "Ana"}), http.StatusConflict, "invalid_transition")

	// Decline.
	carlTok := tokenOf(t, carlLink)
	if d := ev.want(ev.do("POST", "/api/v1/invitations/decline", "", map[string]any{"token": carlTok}), http.StatusOK, ""); d["status"] != "declined" {
		t.Errorf("decline = %v", d)
	}
	ev.want(ev.do("POST", "/api/v1/invitations/decline", "", map[string]any{"token": carlTok}), http.StatusGone, "invitation_declined")
	ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": carlTok, "password": "a long enough passphrase"}),
		http.StatusGone, "invitation_declined")

	// Sessions: ana signs in; a member may read but not invite, and has no
	// mailbox.
	ev.want(ev.do("POST", "/api/v1/session", "", map[string]any{"email": "ana@example.com", "password": "not her password"}),
		http.StatusForbidden, "wrong_password")
	ev.want(ev.do("POST", "/api/v1/session", "", map[string]any{"email": "ana@example.com"}, bad...), http.StatusForbidden, "wrong_password")
	r = ev.do("POST", "/api/v1/session", "", map[string]any{"email": "ana@example.com", "password": "a long enough passphrase"})
	ev.want(r, http.StatusOK, "")
	var session string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "usher_session" {
			session = "usher_session=" + c.Value
		}
	}
	if session == "" {
		t.Fatalf("sign-in set no usher_session cookie: %v", r.Header)
	}
	ev.want(ev.do("GET", acme+"/members", "", nil, "Cookie", session), http.StatusOK, "")
	ev.want(ev.do("POST", acme+"/invitations", "", map[string]any{"email": "x@example.com"}, "Cookie", session), http.StatusForbidden, "forbidden")
	ev.want(ev.do("GET", "/api/v1/mailbox", "", nil, "Cookie", session), http.StatusForbidden, "forbidden")
	ev.want(ev.do("GET", "/api/v1/orgs/other/members", "", nil, "Cookie", session), http.StatusNotFound, "not_found")
	r = ev.do("DELETE", "/api/v1/session", "", nil, "Cookie", session)
	if r.Status != http.StatusNoContent {
		t.Errorf("sign out: %d, want 204", r.Status)
	}
	ev.want(ev.do("GET", acme+"/members", "", nil, "Cookie", session), http.StatusUnauthorized, "unauthorized")

	// Members.
	members := ev.want(ev.do("GET", acme+"/members?include=pending", ev.key, nil), http.StatusOK, "")
	ev.want(ev.do("GET", acme+"/members?include=everyone", ev.key, nil, bad...), http.StatusUnprocessableEntity, "validation_failed")

	// Ana's profile: empty, filled in, verified.
	profile := acme + "/members/" + anaUserID + "/profile"
	if p := ev.want(ev.do("GET", profile, ev.key, nil), http.StatusOK, ""); p["updated_at"] != nil {
		t.Errorf("a profile never filled in = %v", p)
	}
	ev.want(ev.do("POST", profile+"/verify", ev.key, nil), http.StatusConflict, "invalid_transition")
	ev.want(ev.do("PUT", profile, ev.key, map[string]any{"phone": "not a number"}), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("PUT", profile, ev.key, map[string]any{"phone": "+32 2 123 45 67", "job_title": "Nurse", "address": "Main street 1"}), http.StatusOK, "")
	if p := ev.want(ev.do("POST", profile+"/verify", ev.key, nil), http.StatusOK, ""); p["verified_at"] == nil || p["job_title"] != "Nurse" {
		t.Errorf("verified profile = %v", p)
	}
	ev.want(ev.do("GET", acme+"/members/nobody/profile", ev.key, nil), http.StatusNotFound, "not_found")
	if data, _ := members["data"].([]any); len(data) < 3 {
		t.Errorf("members with pending = %v, want the owner, ana and the pending invitees", members)
	}
	ev.want(ev.do("PATCH", acme+"/members/"+anaUserID, ev.key, map[string]any{"groups": []string{}, "admin": false, "active": false}), http.StatusOK, "")
	ev.want(ev.do("PATCH", acme+"/members/"+anaUserID, ev.key, map[string]any{"active": true}), http.StatusOK, "")
	ev.want(ev.do("PATCH", acme+"/members/"+anaUserID, ev.key, map[string]any{"role": "emperor"}), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("PATCH", acme+"/members/"+anaUserID, ev.key, map[string]any{"nickname": "an"}, bad...), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("PATCH", "/api/v1/orgs/other/members/"+anaUserID, otherKey, map[string]any{"admin": true}), http.StatusNotFound, "")

	// Revoke.
	if rv := ev.want(act(bobID, "revoke", nil), http.StatusOK, ""); rv["status"] != "revoked" {
		t.Errorf("revoke = %v", rv)
	}
	ev.want(act(bobID, "revoke", nil), http.StatusConflict, "invalid_transition")
	ev.want(act(bobID, "revoke", nil, "Idempotency-Key", strings.Repeat("k", 256), bad[0], bad[1]), http.StatusUnprocessableEntity, "validation_failed")

	// Settings; approval off.
	ev.want(ev.do("GET", acme+"/settings", ev.key, nil), http.StatusOK, "")
	st := ev.want(ev.do("PATCH", acme+"/settings", ev.key, map[string]any{"auto_approval": false, "brand_color": "#112233",
		"reminder_schedule": []int{86400}}), http.StatusOK, "")
	if st["auto_approval"] != false {
		t.Errorf("settings = %v, want auto_approval false", st)
	}
	ev.want(ev.do("PATCH", acme+"/settings", ev.key, map[string]any{"colour": "red"}, bad...), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("PATCH", acme+"/settings", ev.key, map[string]any{"password_policy": "lax"}, bad...), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("PATCH", acme+"/settings", ev.key, map[string]any{"brand_color": "blue"}), http.StatusUnprocessableEntity, "validation_failed")

	// Approval: one approved, one rejected.
	for i, verb := range []string{"approve", "reject"} {
		email := fmt.Sprintf("waiting%d@example.com", i)
		inv := inviteOne(map[string]any{"email": email})
		tok := tokenOf(t, inv["link"])
		acc := ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": tok, "password": "a long enough passphrase",
			"first_name": "Wai", "last_name": "Ting"}), http.StatusOK, "")
		if acc["status"] != "awaiting_approval" {
			t.Errorf("accept with approval on = %v", acc)
		}
		done := ev.want(act(field(t, inv, "id"), verb, nil), http.StatusOK, "")
		if want := map[string]string{"approve": "accepted", "reject": "rejected"}[verb]; done["status"] != want {
			t.Errorf("%s: status %v, want %s", verb, done["status"], want)
		}
		ev.want(act(field(t, inv, "id"), verb, nil), http.StatusConflict, "invalid_transition")
	}

	// Redeem (headless), with approval on: awaiting_approval.
	gus := inviteOne(map[string]any{"email": "gus@example.com", "send_email": false})
	gusTok := tokenOf(t, gus["link"])
	ev.want(ev.do("POST", "/api/v1/orgs/other/invitations/redeem", otherKey, map[string]any{"token": gusTok, "external_user_id": "crm-7"}),
		http.StatusNotFound, "invitation_not_found")
	red := ev.want(ev.do("POST", acme+"/invitations/redeem", ev.key, map[string]any{"token": gusTok, "external_user_id": "crm-7"}), http.StatusOK, "")
	if red["status"] != "awaiting_approval" || red["external_user_id"] != "crm-7" {
		t.Errorf("redeem = %v", red)
	}
	ev.want(ev.do("POST", acme+"/invitations/redeem", ev.key, map[string]any{"token": gusTok, "external_user_id": "crm-7"}),
		http.StatusConflict, "invitation_used")
	ev.want(ev.do("POST", acme+"/invitations/redeem", ev.key, map[string]any{"token": gusTok}, bad...), http.StatusUnprocessableEntity, "validation_failed")

	// Groups and roles.
	ev.want(ev.do("GET", acme+"/groups", ev.key, nil), http.StatusOK, "")
	g := ev.want(ev.do("POST", acme+"/groups", ev.key, map[string]any{"name": "Block B"}), http.StatusCreated, "")
	ev.want(ev.do("POST", acme+"/groups", ev.key, map[string]any{"title": "Block C"}, bad...), http.StatusUnprocessableEntity, "validation_failed")
	r = ev.do("DELETE", acme+"/groups/"+field(t, g, "id"), ev.key, nil)
	if r.Status != http.StatusNoContent {
		t.Errorf("delete group: %d %s, want 204", r.Status, r.Body)
	}
	ev.want(ev.do("DELETE", acme+"/groups/"+field(t, g, "id"), ev.key, nil), http.StatusNotFound, "")
	ev.want(ev.do("GET", acme+"/roles", ev.key, nil), http.StatusOK, "")
	// A custom role: given to an invitation, it cannot be removed until
	// the invitation is gone.
	ev.want(ev.do("POST", acme+"/roles", ev.key, map[string]any{"name": "inviter", "permissions": []string{"invitations.create"}}),
		http.StatusCreated, "")
	ev.want(ev.do("POST", acme+"/roles", ev.key, map[string]any{"name": "inviter"}), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("POST", acme+"/roles", ev.key, map[string]any{"name": "x", "permissions": []string{"everything"}}, bad...),
		http.StatusUnprocessableEntity, "validation_failed")
	withRole := ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "ivo@example.com", "role": "inviter"}), http.StatusCreated, "")
	ev.want(ev.do("DELETE", acme+"/roles/inviter", ev.key, nil), http.StatusConflict, "conflict")
	ev.want(ev.do("DELETE", acme+"/roles/member", ev.key, nil), http.StatusConflict, "invalid_transition")
	ev.want(ev.do("POST", acme+"/invitations/"+field(t, withRole, "id")+"/revoke", ev.key, nil), http.StatusOK, "")
	if r := ev.do("DELETE", acme+"/roles/inviter", ev.key, nil); r.Status != http.StatusNoContent {
		t.Errorf("delete role: %d %s, want 204", r.Status, r.Body)
	}
	ev.want(ev.do("DELETE", acme+"/roles/inviter", ev.key, nil), http.StatusNotFound, "not_found")
	ev.want(ev.do("GET", "/api/v1/orgs/other/roles", ev.key, nil), http.StatusNotFound, "not_found")

	// Webhook endpoints: the secret only when made; a later event is
	// queued for the endpoint.
	ev.want(ev.do("GET", acme+"/webhooks", ev.key, nil), http.StatusOK, "")
	hook := ev.want(ev.do("POST", acme+"/webhooks", ev.key, map[string]any{"url": "https://crm.example.com/usher", "description": "CRM"}),
		http.StatusCreated, "")
	if !strings.HasPrefix(field(t, hook, "secret"), "whsec_") {
		t.Errorf("created webhook = %v, want its secret", hook)
	}
	ev.want(ev.do("POST", acme+"/webhooks", ev.key, map[string]any{"url": "javascript:alert(1)"}, bad...), http.StatusUnprocessableEntity, "validation_failed")
	hooks := ev.want(ev.do("GET", acme+"/webhooks", ev.key, nil), http.StatusOK, "")
	if strings.Contains(fmt.Sprint(hooks), "whsec_") || !strings.Contains(fmt.Sprint(hooks), "crm.example.com") {
		t.Errorf("webhooks = %v, want the endpoint without its secret", hooks)
	}
	hookPath := acme + "/webhooks/" + field(t, hook, "id")
	ev.want(ev.do("POST", acme+"/invitations", ev.key, map[string]any{"email": "hooked@example.com"}), http.StatusCreated, "")
	msgs := ev.want(ev.do("GET", hookPath+"/messages?limit=10", ev.key, nil), http.StatusOK, "")
	if list, _ := msgs["data"].([]any); len(list) != 1 || !strings.Contains(fmt.Sprint(list[0]), "invitation.created") {
		t.Errorf("webhook messages = %v, want the created invitation's", msgs)
	}
	ev.want(ev.do("GET", hookPath+"/messages?limit=0", ev.key, nil, bad...), http.StatusUnprocessableEntity, "validation_failed")
	ev.want(ev.do("GET", "/api/v1/orgs/other/webhooks/"+field(t, hook, "id")+"/messages", ev.key, nil), http.StatusNotFound, "not_found")
	if r := ev.do("DELETE", hookPath, ev.key, nil); r.Status != http.StatusNoContent {
		t.Errorf("delete webhook: %d %s, want 204", r.Status, r.Body)
	}
	ev.want(ev.do("DELETE", hookPath, ev.key, nil), http.StatusNotFound, "not_found")
	ev.want(ev.do("GET", hookPath+"/messages", ev.key, nil), http.StatusNotFound, "not_found")

	// API keys: the key only when made; revoked, it stops working at once.
	made := ev.want(ev.do("POST", acme+"/api-keys", ev.key, map[string]any{"name": "CRM sync"}), http.StatusCreated, "")
	newKey := field(t, made, "key")
	ev.want(ev.do("GET", acme+"/invitations", newKey, nil), http.StatusOK, "")
	keys := ev.want(ev.do("GET", acme+"/api-keys", ev.key, nil), http.StatusOK, "")
	if list, _ := keys["data"].([]any); len(list) != 2 || strings.Contains(fmt.Sprint(keys), newKey) ||
		!strings.Contains(fmt.Sprint(keys), "CRM sync") {
		t.Errorf("api keys = %v, want both keys, without the keys themselves", keys)
	}
	ev.want(ev.do("POST", acme+"/api-keys", ev.key, map[string]any{"name": strings.Repeat("n", 101)}, bad...), http.StatusUnprocessableEntity, "validation_failed")
	if r := ev.do("DELETE", acme+"/api-keys/"+field(t, made, "id"), ev.key, nil); r.Status != http.StatusNoContent {
		t.Errorf("revoke key: %d %s, want 204", r.Status, r.Body)
	}
	ev.want(ev.do("GET", acme+"/invitations", newKey, nil), http.StatusUnauthorized, "unauthorized")
	ev.want(ev.do("DELETE", acme+"/api-keys/"+field(t, made, "id"), ev.key, nil), http.StatusNotFound, "not_found")

	// Audit.
	audit := ev.want(ev.do("GET", acme+"/audit", ev.key, nil), http.StatusOK, "")
	if entries, _ := audit["data"].([]any); len(entries) > 0 {
		last, _ := entries[len(entries)-1].(map[string]any)
		ev.want(ev.do("GET", acme+"/audit?before="+url.QueryEscape(field(t, last, "id")), ev.key, nil), http.StatusOK, "")
	}

	// The mailbox.
	r = ev.do("GET", "/api/v1/mailbox?to=ana@example.com", ev.key, nil)
	if r.Status != http.StatusOK || !bytes.HasPrefix(r.Body, []byte("[")) {
		t.Errorf("mailbox: %d %s, want 200 and an array", r.Status, r.Body)
	}
	if r := ev.do("GET", "/api/v1/mailbox", ev.key, nil); r.Status != http.StatusOK {
		t.Errorf("mailbox: %d %s, want 200", r.Status, r.Body)
	}
	ev.want(ev.do("GET", "/api/v1/mailbox?to=nobody", ev.key, nil), http.StatusUnprocessableEntity, "invalid_email")
	ev.want(ev.do("GET", "/api/v1/mailbox", "", nil, bad...), http.StatusUnauthorized, "unauthorized")

	// Removing a member.
	r = ev.do("DELETE", acme+"/members/"+anaUserID, ev.key, nil)
	if r.Status != http.StatusNoContent {
		t.Errorf("remove member: %d %s, want 204", r.Status, r.Body)
	}
	ev.want(ev.do("DELETE", acme+"/members/"+anaUserID, ev.key, nil), http.StatusNotFound, "")

	// Expiry, read lazily; renew brings it back.
	ev.clock.Advance(400 * 24 * time.Hour)
	if got := ev.want(lookup(tokenOf(t, doraLink)), http.StatusOK, ""); got["status"] != "expired" {
		t.Errorf("lookup after expiry: status %v, want expired", got["status"])
	}
	ev.want(ev.do("POST", "/api/v1/invitations/accept", "", map[string]any{"token": tokenOf(t, doraLink), "password": "a long enough passphrase"}),
		http.StatusGone, "invitation_expired")
	if got := ev.want(ev.do("GET", acme+"/invitations/"+doraID, ev.key, nil), http.StatusOK, ""); got["status"] != "expired" {
		t.Errorf("after expiry: status %v, want expired", got["status"])
	}
	ev.want(act(doraID, "renew", nil), http.StatusOK, "")

	// The per-token limit on the public routes.
	for range 10 {
		ev.want(lookup("flood"), http.StatusNotFound, "invitation_not_found")
	}
	ev.want(lookup("flood"), http.StatusTooManyRequests, "rate_limited")
}

// importFlow exercises the import API of api.md, the parts of it that
// are served.
func importFlow(t *testing.T, ev *env, pending map[string]bool) {
	const acme = "/api/v1/orgs/acme"
	for _, ext := range []string{"csv", "xlsx"} {
		if pending["GET /api/v1/import-template."+ext] {
			continue
		}
		r := ev.do("GET", "/api/v1/import-template."+ext, "", nil)
		if r.Status != http.StatusOK || len(r.Body) == 0 {
			t.Errorf("import template %s: %d, want 200 and a file", ext, r.Status)
		}
	}
	if pending["POST /api/v1/orgs/{org}/imports"] {
		return
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "people.csv")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, "email,first_name,last_name\nimp1@example.com,Imp,One\nnot-an-address,Bad,Row\n")
	mw.WriteField("role", "member")
	mw.Close()
	imp := ev.want(ev.do("POST", acme+"/imports", ev.key, buf.String(), "Content-Type", mw.FormDataContentType()), http.StatusAccepted, "")
	id := field(t, imp, "id")
	waitFor := func(status string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := ev.want(ev.do("GET", acme+"/imports/"+id, ev.key, nil), http.StatusOK, "")
			if got["status"] == status {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("import %s: status %v, want %s", id, got["status"], status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("previewed")
	ev.want(ev.do("GET", acme+"/imports/"+id+"/rows?limit=1", ev.key, nil), http.StatusOK, "")
	ev.want(ev.do("GET", acme+"/imports/"+id+"/rows?outcome=invalid_email", ev.key, nil), http.StatusOK, "")
	ev.want(ev.do("GET", acme+"/imports/"+id, "", nil, violatesOpenAPI, "1"), http.StatusUnauthorized, "unauthorized")
	ev.want(ev.do("POST", acme+"/imports/"+id+"/commit", ev.key, nil), http.StatusAccepted, "")
	waitFor("committed")
}
