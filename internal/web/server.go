// Package web is usher's HTTP face: the JSON API under /api/v1, the
// invitee's pages and the admin console, health and metrics. Handlers only
// translate between HTTP and the invite.Service, which applies every rule.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"usher/internal/account"
	"usher/internal/bulk"
	"usher/internal/invite"
	"usher/internal/sqlstore"
)

// Config holds the web layer's choices.
type Config struct {
	// BaseURL is where usher is reached from outside (links, cookies).
	BaseURL string
	// Mailbox enables the built-in mailbox API (no SMTP configured).
	Mailbox bool
	// Import bounds uploaded files (zero values: bulk's defaults, 20 MB
	// and 100,000 rows).
	Import bulk.Limits
	// SessionIdle and SessionMax bound a signed-in session.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// SetupToken, when set, opens BaseURL/setup/<token> for creating the
	// first admin while there is no account (page_setup.go).
	SetupToken string
}

// Deps are what the server needs.
type Deps struct {
	Service  *invite.Service
	Store    *sqlstore.Store
	Log      *slog.Logger
	Registry *prometheus.Registry
	Metrics  *Metrics
	Config   Config
}

type server struct {
	svc     *invite.Service
	store   *sqlstore.Store
	log     *slog.Logger
	cfg     Config
	metrics *Metrics
	limits  *limiter
	secure  bool // behind TLS: cookies get Secure
	// imports is shared by the API and the console, so that their
	// uploads share one bound on files read at once.
	imports *importAPI
	// setupHash is the setup link's token hash ("": none, or used).
	setupMu   sync.Mutex
	setupHash string
}

// NewServer returns usher's whole HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Config.SessionIdle == 0 {
		d.Config.SessionIdle = 12 * time.Hour
	}
	if d.Config.SessionMax == 0 {
		d.Config.SessionMax = 7 * 24 * time.Hour
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	s := &server{svc: d.Service, store: d.Store, log: d.Log, cfg: d.Config, metrics: d.Metrics,
		limits: newLimiter(), secure: strings.HasPrefix(d.Config.BaseURL, "https://")}
	s.imports = s.newImportAPI()
	if d.Config.SetupToken != "" {
		s.setupHash = invite.HashToken(d.Config.SetupToken)
	}
	mux := http.NewServeMux()
	s.routes(mux, d.Registry)
	var h http.Handler = mux
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errorf(invite.CodeForbidden, "cross-origin request refused: send it from usher's own pages, or with an API key and no browser"))
	}))
	h = cop.Handler(h)
	h = s.observe(mux, h)
	return h
}

// ctxKey keys request-scoped values.
type ctxKey int

const actorKey ctxKey = iota

// withActor authenticates the request, if it carries credentials: an API
// key (Authorization: Bearer) or a session cookie. Bad credentials are
// refused at once; none at all leave the request anonymous.
func (s *server) withActor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			secret, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				s.fail(w, r, errorf(invite.CodeUnauthorized, "use Authorization: Bearer <api key>"))
				return
			}
			actor, err := s.svc.AuthenticateKey(r.Context(), strings.TrimSpace(secret))
			if err != nil {
				s.fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey, actor)))
			return
		}
		if actor, ok := s.sessionActor(w, r); ok {
			r = r.WithContext(context.WithValue(r.Context(), actorKey, actor))
		}
		next.ServeHTTP(w, r)
	})
}

// actorOf returns the request's actor; ok is false for anonymous requests.
func actorOf(r *http.Request) (invite.Actor, bool) {
	a, ok := r.Context().Value(actorKey).(invite.Actor)
	return a, ok
}

// authed wraps an organization-scoped API handler: it needs an actor.
func (s *server) authed(h func(w http.ResponseWriter, r *http.Request, a invite.Actor)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := actorOf(r)
		if !ok {
			s.fail(w, r, errorf(invite.CodeUnauthorized, "send an API key (Authorization: Bearer …) or sign in"))
			return
		}
		h(w, r, a)
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("ok\n"))
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("ready\n"))
}

// mailbox lists the built-in mailbox (instance admins and API keys; only
// while no SMTP server is configured).
func (s *server) mailbox(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	if !s.cfg.Mailbox {
		s.fail(w, r, errorf(invite.CodeNotFound, "the built-in mailbox is off: an SMTP server is configured"))
		return
	}
	if a.KeyID == "" && !a.InstanceAdmin {
		s.fail(w, r, errorf(invite.CodeForbidden, "the mailbox is for instance admins and API keys"))
		return
	}
	to := strings.TrimSpace(r.URL.Query().Get("to"))
	if to != "" {
		norm, err := account.NormalizeEmail(to)
		if err != nil {
			s.fail(w, r, errorf(invite.CodeInvalidEmail, "to: "+err.Error()))
			return
		}
		to = norm
	}
	msgs, err := s.store.Mailbox(r.Context(), to, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, msgs)
}
