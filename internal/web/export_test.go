package web

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// APIPatterns returns the method and pattern of every API route, as
// routes registers them.
func APIPatterns() []string {
	s := &server{log: slog.New(slog.DiscardHandler), limits: newLimiter()}
	return s.routes(http.NewServeMux(), prometheus.NewRegistry())
}
