package web

import "net/http"

// pageRoutes lists the HTML pages: the invitee's and the admin console.
func (s *server) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.home)
}

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>usher</title></head>` +
		`<body><h1>usher is running</h1><p>API: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></p></body></html>`))
}
