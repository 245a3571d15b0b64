package web

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"usher/internal/account"
	"usher/internal/invite"
)

// The setup link: on a first start, with no account yet, serve prints
// BaseURL/setup/<token>; whoever opens it creates the first instance
// admin (and, if named, an organization they own) and is signed in. The
// link works once, and only while there is no account at all. It lives in
// this instance's memory: behind several instances, use the one that
// printed it, or usher admin create.

// setupView is the setup form, as typed.
type setupView struct {
	Token, Email, Org string
	Rules             []account.Rule
	Errs              []account.FieldError
	Error             string
}

// setupOpen tells whether token is the setup link's and usher has no
// account yet.
func (s *server) setupOpen(r *http.Request, token string) bool {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	return s.setupOpenLocked(r, token)
}

var errSetupGone = errorf(invite.CodeNotFound, "this setup link does not work: usher has an account already (sign in), or the link is from an earlier start")

func (s *server) setupPage(w http.ResponseWriter, r *http.Request) {
	if token, ok := s.setupLink(w, r); ok {
		s.showSetup(w, r, http.StatusOK, &setupView{Token: token})
	}
}

// setupLink returns the request's setup token if the link works, and
// answers the request itself if not.
func (s *server) setupLink(w http.ResponseWriter, r *http.Request) (string, bool) {
	token := r.PathValue("token")
	if !s.allowed(r, "accept", tokenKey(token)) {
		s.errorPage(w, r, errRateLimit, nil)
		return "", false
	}
	if !s.setupOpen(r, token) {
		s.errorPage(w, r, errSetupGone, nil)
		return "", false
	}
	return token, true
}

func (s *server) showSetup(w http.ResponseWriter, r *http.Request, status int, v *setupView) {
	v.Rules = account.PolicyNIST.Rules()
	s.render(w, r, status, "setup", &view{Title: "Set up usher", Narrow: true, Data: v})
}

func (s *server) setupPost(w http.ResponseWriter, r *http.Request) {
	token, ok := s.setupLink(w, r)
	if !ok {
		return
	}
	v := &setupView{Token: token, Email: strings.TrimSpace(r.PostFormValue("email")), Org: strings.TrimSpace(r.PostFormValue("org"))}
	pw := r.PostFormValue("password")
	if broken := account.PolicyNIST.Check(pw); len(broken) > 0 {
		for _, rule := range broken {
			v.Errs = append(v.Errs, account.FieldError{Field: "password", Code: rule.Code, Message: rule.Message})
		}
		v.Error = "Please correct the fields marked below."
		s.showSetup(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if pw != r.PostFormValue("password_confirm") {
		v.Errs = []account.FieldError{{Field: "password_confirm", Code: "mismatch", Message: "The two passwords are not the same."}}
		s.showSetup(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	// One at a time, and checked again, so that two people on the link
	// cannot both become the first admin.
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if !s.setupOpenLocked(r, token) {
		s.errorPage(w, r, errSetupGone, nil)
		return
	}
	u, err := s.svc.CreateUser(r.Context(), v.Email, pw, true)
	if err != nil {
		if code := invite.CodeOf(err); code == invite.CodeInvalidEmail {
			v.Errs = []account.FieldError{{Field: "email", Code: code, Message: s.messageOf(r, err)}}
			v.Error = "Please correct the fields marked below."
			s.showSetup(w, r, http.StatusUnprocessableEntity, v)
			return
		}
		s.errorPage(w, r, err, nil)
		return
	}
	s.setupHash = "" // used
	next := "/admin/"
	if v.Org != "" {
		org, err := s.svc.CreateOrg(r.Context(), v.Org, "", u.Email)
		if err != nil {
			s.log.Warn("setup: organization not created", "err", err)
			s.setFlash(w, "bad", "Your account is ready, but the organization was not created: "+s.messageOf(r, err))
		} else {
			next = "/admin/orgs/" + org.Slug + "/"
		}
	}
	if err := s.startSession(w, r, u); err != nil {
		s.errorPage(w, r, err, nil)
		return
	}
	redirect(w, r, next)
}

// setupOpenLocked is setupOpen with setupMu held.
func (s *server) setupOpenLocked(r *http.Request, token string) bool {
	if s.setupHash == "" || subtle.ConstantTimeCompare([]byte(invite.HashToken(token)), []byte(s.setupHash)) != 1 {
		return false
	}
	has, err := s.svc.HasUsers(r.Context())
	return err == nil && !has
}
