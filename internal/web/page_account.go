package web

import (
	"net/http"
	"strings"

	"usher/internal/account"
	"usher/internal/invite"
)

// accountView serves the forgot, reset and sign-up pages.
type accountView struct {
	Email string
	First string
	Last  string
	Token string
	Info  *invite.ResetInfo
	Sent  bool                      // "check your email"
	Invs  []invite.SignUpInvitation // sign-up of an address with invitations
	Errs  []account.FieldError
	Error string
}

func (s *server) forgotPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "forgot", &view{Title: "Forgot your password", Narrow: true, Data: &accountView{}})
}

func (s *server) forgotPost(w http.ResponseWriter, r *http.Request) {
	av := &accountView{Email: strings.TrimSpace(r.PostFormValue("email"))}
	v := &view{Title: "Forgot your password", Narrow: true, Data: av}
	if !s.allowed(r, "reset", strings.ToLower(av.Email)) {
		av.Error = s.messageOf(r, errRateLimit)
		s.render(w, r, http.StatusTooManyRequests, "forgot", v)
		return
	}
	if err := s.svc.RequestPasswordReset(r.Context(), av.Email); err != nil {
		if invite.CodeOf(err) == "" {
			s.errorPage(w, r, err, nil)
			return
		}
		av.Errs, av.Error = fieldsOf(err), s.messageOf(r, err)
		s.render(w, r, http.StatusUnprocessableEntity, "forgot", v)
		return
	}
	av.Sent = true
	s.render(w, r, http.StatusOK, "forgot", v)
}

func (s *server) resetPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.allowed(r, "lookup", tokenKey(token)) {
		s.errorPage(w, r, errRateLimit, nil)
		return
	}
	s.showReset(w, r, http.StatusOK, &accountView{Token: token})
}

func (s *server) showReset(w http.ResponseWriter, r *http.Request, status int, av *accountView) {
	info, err := s.svc.LookupReset(r.Context(), av.Token)
	if err != nil {
		s.errorPage(w, r, err, nil)
		return
	}
	av.Info = info
	title := "Choose a new password"
	if info.NewAccount {
		title = "Finish creating your account"
	}
	s.render(w, r, status, "reset", &view{Title: title, Narrow: true, Data: av})
}

func (s *server) resetPost(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.allowed(r, "accept", tokenKey(token)) {
		s.errorPage(w, r, errRateLimit, nil)
		return
	}
	av := &accountView{Token: token}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password_confirm") {
		av.Errs = []account.FieldError{{Field: "password_confirm", Code: "mismatch", Message: "The two passwords are not the same."}}
		s.showReset(w, r, http.StatusUnprocessableEntity, av)
		return
	}
	u, err := s.svc.CompletePasswordReset(r.Context(), token, pw)
	if err != nil {
		if invite.CodeOf(err) == invite.CodeWeakPassword || invite.CodeOf(err) == invite.CodeValidation {
			av.Errs, av.Error = fieldsOf(err), "Please correct the fields marked below."
			s.showReset(w, r, http.StatusUnprocessableEntity, av)
			return
		}
		s.errorPage(w, r, err, nil)
		return
	}
	// A new password ends every session of the account, then signs this
	// browser in.
	if err := s.store.DeleteSessions(r.Context(), "", u.ID); err != nil {
		s.errorPage(w, r, err, nil)
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.errorPage(w, r, err, nil)
		return
	}
	s.setFlash(w, "ok", "Your password is set. You are signed in.")
	redirect(w, r, "/admin/")
}

func (s *server) signupPage(w http.ResponseWriter, r *http.Request) {
	if !s.svc.OpenSignup() {
		s.errorPage(w, r, errorf(invite.CodeNotFound, "this instance is invite-only: ask an organization for an invitation"), nil)
		return
	}
	s.render(w, r, http.StatusOK, "signup", &view{Title: "Create an account", Narrow: true, Data: &accountView{}})
}

func (s *server) signupPost(w http.ResponseWriter, r *http.Request) {
	if !s.svc.OpenSignup() {
		s.errorPage(w, r, errorf(invite.CodeNotFound, "this instance is invite-only: ask an organization for an invitation"), nil)
		return
	}
	av := &accountView{Email: strings.TrimSpace(r.PostFormValue("email")), First: strings.TrimSpace(r.PostFormValue("first_name")),
		Last: strings.TrimSpace(r.PostFormValue("last_name"))}
	v := &view{Title: "Create an account", Narrow: true, Data: av}
	if !s.allowed(r, "reset", strings.ToLower(av.Email)) {
		av.Error = s.messageOf(r, errRateLimit)
		s.render(w, r, http.StatusTooManyRequests, "signup", v)
		return
	}
	res, err := s.svc.SignUp(r.Context(), av.Email, av.First, av.Last)
	if err != nil {
		if invite.CodeOf(err) == "" {
			s.errorPage(w, r, err, nil)
			return
		}
		av.Errs, av.Error = fieldsOf(err), s.messageOf(r, err)
		s.render(w, r, problemFor(s.log, r, err).Status, "signup", v)
		return
	}
	av.Sent, av.Invs = true, res.Invitations
	s.render(w, r, http.StatusOK, "signup", v)
}
