package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageRoutes lists the HTML pages: the invitee's and the admin console.
// Every state change is a POST form; CrossOriginProtection (server.go)
// refuses cross-site ones.
func (s *server) pageRoutes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(files, time.Hour)))
	mux.HandleFunc("GET /theme/{file}", s.theme)
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /setup/{token}", s.setupPage)
	mux.HandleFunc("POST /setup/{token}", s.setupPost)

	// The invitee's.
	mux.HandleFunc("GET /i/{token}", s.invitePage)
	mux.HandleFunc("POST /i/{token}/accept", s.invitePageAccept)
	mux.HandleFunc("POST /i/{token}/decline", s.invitePageDecline)
	mux.HandleFunc("POST /i/{token}/request-link", s.invitePageRequestLink)
	mux.HandleFunc("POST /signout", s.pageSignOut)

	// Accounts.
	mux.HandleFunc("GET /forgot", s.forgotPage)
	mux.HandleFunc("POST /forgot", s.forgotPost)
	mux.HandleFunc("GET /reset/{token}", s.resetPage)
	mux.HandleFunc("POST /reset/{token}", s.resetPost)
	mux.HandleFunc("GET /signup", s.signupPage)
	mux.HandleFunc("POST /signup", s.signupPost)
	mux.HandleFunc("POST /password-check", s.passwordCheck)

	s.adminRoutes(mux)
}

func cacheFor(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d/time.Second)))
		h.ServeHTTP(w, r)
	})
}

// theme serves the accent colours of a page as a stylesheet, so that the
// Content-Security-Policy needs no inline styles: /theme/4f46e5.css.
func (s *server) theme(w http.ResponseWriter, r *http.Request) {
	hex, ok := strings.CutSuffix(r.PathValue("file"), ".css")
	if !ok || len(hex) != 6 || strings.Trim(strings.ToLower(hex), "0123456789abcdef") != "" {
		http.NotFound(w, r)
		return
	}
	color := "#" + strings.ToLower(hex)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	fmt.Fprintf(w, ":root { --accent: %s; --accent-text: %s; }\n", color, textOn(color))
}

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/admin/", http.StatusSeeOther)
}

// templates holds one parsed set per page: the base layout plus the page.
var templates = mustParsePages()

var funcs = template.FuncMap{
	"date":     fmtDate,
	"datetime": fmtDateTime,
	"label":    statusLabel,
	"join":     strings.Join,
	"lower":    strings.ToLower,
	"duration": fmtDuration,
	"seconds":  func(d time.Duration) int64 { return int64(d / time.Second) },
	"hours":    func(d time.Duration) int64 { return int64(d / time.Hour) },
	"add":      func(a, b int) int { return a + b },
	"contains": func(list []string, v string) bool { return containsStr(list, v) },
	"fieldErr": fieldErrors,
	"newPassword": func(label string, rules []account.Rule, errs []account.FieldError) newPasswordView {
		return newPasswordView{Label: label, Rules: rules, Errs: errs}
	},
	"broken": func(errs []account.FieldError, code string) bool {
		return slices.ContainsFunc(errs, func(e account.FieldError) bool { return e.Field == "password" && e.Code == code })
	},
	"hasErr":    func(errs []account.FieldError, field string) bool { return len(fieldErrors(errs, field)) > 0 },
	"name":      account.DisplayName,
	"query":     func(v url.Values) template.URL { return template.URL(v.Encode()) },
	"statusCls": func(s invite.Status) string { return string(s) },
	"allowed":   func(a string, st invite.Status) bool { return invite.Action(a).Allowed(st) },
	"linkify":   linkify,
	"rulesMin":  func(r []account.Rule) string { return ruleBound(r, 0) },
	"rulesMax":  func(r []account.Rule) string { return ruleBound(r, 1) },
	"summary":   importSummary,
	"policyOf":  policyOf,
}

func mustParsePages() map[string]*template.Template {
	base := template.Must(template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		n = strings.TrimPrefix(n, "templates/")
		if n == "base.html" {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n))
		out[strings.TrimSuffix(n, ".html")] = t
	}
	return out
}

// view is what every page template gets.
type view struct {
	Title      string
	Accent     string // the organization's brand colour, or usher's
	AccentText string // black or white, whichever reads on Accent
	Brand      string // name in the header
	User       *account.User
	Flash      *flash
	Admin      *adminView // set on console pages
	Narrow     bool
	Refresh    int    // seconds: reload the page (a batch being read); 0: never
	Page       string // the template's name, for tests and styles
	Data       any
}

// newPasswordView is the "new_password" fields: a password under rules,
// typed twice.
type newPasswordView struct {
	Label string
	Rules []account.Rule
	Errs  []account.FieldError
}

type flash struct {
	Kind string // ok or bad
	Text string
}

// render writes page name with v, after everything that could fail has
// run, so that a template error never sends half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := templates[name]
	if !ok {
		s.log.Error("no such page template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v.Page = name
	if v.Accent == "" {
		v.Accent = account.DefaultBrandColor
	}
	v.AccentText = textOn(v.Accent)
	if v.Brand == "" {
		v.Brand = "usher"
	}
	if v.Flash == nil {
		v.Flash = takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base.html", v); err != nil {
		s.log.Error("render page", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer") // invitation tokens sit in page URLs
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows err as a page, with the status its code maps to.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, err error, v *view) {
	p := problemFor(s.log, r, err)
	if v == nil {
		v = &view{}
	}
	v.Title, v.Narrow = p.Title, true
	if v.Admin == nil {
		if u, ok := s.sessionUser(w, r); ok {
			v.User = u
		}
	}
	v.Data = p
	s.render(w, r, p.Status, "error", v)
}

const flashCookie = "usher_flash"

// setFlash leaves a confirmation for the next page shown.
func (s *server) setFlash(w http.ResponseWriter, kind, text string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(kind + "|" + text), Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1})
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(v, "|")
	if !ok || (kind != "ok" && kind != "bad") || len(text) > 500 {
		return nil
	}
	return &flash{Kind: kind, Text: text}
}

// redirect answers a form POST with 303 See Other.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// messageOf is the safe text of err for a flash.
func (s *server) messageOf(r *http.Request, err error) string {
	return problemFor(s.log, r, err).Detail
}

func fieldErrors(errs []account.FieldError, field string) []string {
	var out []string
	for _, e := range errs {
		if e.Field == field {
			out = append(out, e.Message)
		}
	}
	return out
}

func fieldsOf(err error) []account.FieldError {
	if e, ok := err.(*invite.Error); ok {
		return e.Fields
	}
	return nil
}

func containsStr(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// textOn returns black or white, whichever has more contrast on the
// colour hex (#rrggbb), by WCAG relative luminance.
func textOn(hex string) string {
	if len(hex) != 7 || hex[0] != '#' {
		return "#ffffff"
	}
	var rgb [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return "#ffffff"
		}
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		rgb[i] = c
	}
	l := 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
	// Contrast with white: 1.05/(l+0.05); with black: (l+0.05)/0.05.
	if 1.05/(l+0.05) >= (l+0.05)/0.05 {
		return "#ffffff"
	}
	return "#111111"
}

func fmtDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006")
}

func fmtDateTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

func fmtDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	case d%time.Hour == 0:
		n := int(d / time.Hour)
		if n == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", n)
	}
	return d.String()
}

var statusLabels = map[invite.Status]string{
	invite.StatusDraft: "Draft", invite.StatusPending: "Pending", invite.StatusAwaitingApproval: "Waiting for approval",
	invite.StatusAccepted: "Accepted", invite.StatusRejected: "Rejected", invite.StatusDeclined: "Declined",
	invite.StatusExpired: "Expired", invite.StatusRevoked: "Revoked",
}

func statusLabel(s invite.Status) string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return string(s)
}

// ruleBound reads the length bounds out of a policy's "length" rule
// ("10 to 16 characters"), for the live check in the browser.
func ruleBound(rules []account.Rule, i int) string {
	for _, r := range rules {
		if r.Code != "length" {
			continue
		}
		var lo, hi int
		if _, err := fmt.Sscanf(r.Message, "%d to %d", &lo, &hi); err == nil {
			return strconv.Itoa([]int{lo, hi}[i])
		}
	}
	return ""
}
