package web

import (
	"net/http"

	"usher/internal/invite"
)

type orgRoute func(pattern string, h func(http.ResponseWriter, *http.Request, invite.Actor))

// importRoutes lists the import API (api.md, imports).
func (s *server) importRoutes(org, post orgRoute) {}
