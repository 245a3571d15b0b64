package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"usher/internal/invite"
)

// Metrics are usher's Prometheus metrics.
type Metrics struct {
	requests    *prometheus.HistogramVec
	transitions *prometheus.CounterVec
}

// NewMetrics registers usher's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "usher_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usher_invitation_transitions_total",
			Help: "Invitation status changes, by from and to status (from is empty for new invitations).",
		}, []string{"from", "to"}),
	}
	reg.MustRegister(m.requests, m.transitions)
	return m
}

// Transition counts one invitation status change; pass it as the
// service's OnTransition hook.
func (m *Metrics) Transition(from, to invite.Status) {
	m.transitions.WithLabelValues(string(from), string(to)).Inc()
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	if reg == nil {
		return promhttp.Handler()
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe logs each request and records its latency under its route
// pattern (never its raw path: tokens travel in paths), and turns a panic
// into a 500.
func (s *server) observe(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			// The mux records the route it chose on r; a request it did
			// not route (refused before it, or matching nothing) is
			// looked up.
			pattern := r.Pattern
			if pattern == "" {
				_, pattern = mux.Handler(r)
			}
			if pattern == "" {
				pattern = "unmatched"
			}
			if v := recover(); v != nil {
				s.log.Error("panic", "route", pattern, "panic", v)
				if rec.status == 0 {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			d := time.Since(start)
			code := rec.status
			if code == 0 {
				code = http.StatusOK
			}
			s.metrics.requests.WithLabelValues(pattern, r.Method, strconv.Itoa(code)).Observe(d.Seconds())
			level := slog.LevelDebug
			if code >= 500 {
				level = slog.LevelError
			}
			s.log.Log(r.Context(), level, "http", "method", r.Method, "route", pattern, "status", code, "duration", d)
		}()
		next.ServeHTTP(rec, r)
	})
}
