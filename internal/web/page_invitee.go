package web

import (
	"cmp"
	"net/http"
	"strings"

	"usher/internal/account"
	"usher/internal/invite"
)

// inviteView is the invitee's page at /i/{token}.
type inviteView struct {
	Token    string
	Info     *invite.LinkInfo // nil for links that lead nowhere
	Inv      *invite.Invitation
	State    string // register, signin, accept, mismatch, in, waiting, or dead
	Dead     string // for State dead: expired, revoked, used, declined, rejected, superseded, not_found
	SignedIn *account.User
	Errs     []account.FieldError
	Error    string // a message above the form
	First    string
	Last     string
	Redirect string
}

// allowed applies the per-IP and per-key rate limits without answering,
// for pages that show their own error.
func (s *server) allowed(r *http.Request, scope, key string) bool {
	ok := s.limits.allow(scope+"|ip|"+clientIP(r), perIPRate, perIPBurst)
	if ok && key != "" {
		ok = s.limits.allow(scope+"|key|"+key, perKeyRate, perKeyBurst)
	}
	return ok
}

// invitePage shows what a link is. It never changes anything: mail
// scanners that open links do not use them up.
func (s *server) invitePage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.allowed(r, "lookup", tokenKey(token)) {
		s.errorPage(w, r, errRateLimit, nil)
		return
	}
	iv := &inviteView{Token: token}
	if u, ok := s.sessionUser(w, r); ok {
		iv.SignedIn = u
	}
	s.showInvite(w, r, http.StatusOK, iv)
}

// showInvite looks the link up again and renders it in its current state,
// keeping what iv already holds (form values, errors).
func (s *server) showInvite(w http.ResponseWriter, r *http.Request, status int, iv *inviteView) {
	v := &view{Title: "Invitation", Narrow: true, User: iv.SignedIn, Data: iv}
	info, err := s.svc.Lookup(r.Context(), iv.Token)
	if err != nil {
		switch invite.CodeOf(err) {
		case invite.CodeInvitationSuperseded:
			iv.State, iv.Dead = "dead", "superseded"
		case invite.CodeInvitationNotFound:
			iv.State, iv.Dead = "dead", "not_found"
		default:
			s.errorPage(w, r, err, nil)
			return
		}
		v.Title = "This link cannot be used"
		s.render(w, r, http.StatusOK, "invite", v)
		return
	}
	iv.Info, iv.Inv = info, info.Invitation
	v.Accent, v.Brand = info.Org.Settings.BrandColor, info.Org.Name
	if iv.First == "" && iv.Last == "" {
		iv.First, iv.Last = info.Invitation.FirstName, info.Invitation.LastName
	}
	mine := iv.SignedIn != nil && iv.SignedIn.Email == info.Invitation.Email
	switch info.Status {
	case invite.StatusPending:
		switch {
		case mine:
			iv.State = "accept"
		case iv.SignedIn != nil:
			iv.State = "mismatch"
		case info.AccountExists:
			iv.State = "signin"
		default:
			iv.State = "register"
		}
		v.Title = "You are invited to " + info.Org.Name
	case invite.StatusAccepted:
		if mine {
			iv.State, iv.Redirect = "in", cmp.Or(info.Invitation.RedirectURL, info.Org.Settings.RedirectURL)
			v.Title = "You're in"
		} else {
			iv.State, iv.Dead = "dead", "used"
		}
	case invite.StatusAwaitingApproval:
		if mine {
			iv.State, v.Title = "waiting", "Waiting for approval"
		} else {
			iv.State, iv.Dead = "dead", "used"
		}
	case invite.StatusExpired:
		iv.State, iv.Dead = "dead", "expired"
	case invite.StatusRevoked:
		iv.State, iv.Dead = "dead", "revoked"
	case invite.StatusDeclined:
		iv.State, iv.Dead = "dead", "declined"
	case invite.StatusRejected:
		iv.State, iv.Dead = "dead", "rejected"
	default:
		iv.State, iv.Dead = "dead", "not_found"
	}
	if iv.State == "dead" {
		v.Title = "This invitation cannot be used"
	}
	s.render(w, r, status, "invite", v)
}

func (s *server) invitePageAccept(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.allowed(r, "accept", tokenKey(token)) {
		s.errorPage(w, r, errRateLimit, nil)
		return
	}
	iv := &inviteView{Token: token, First: strings.TrimSpace(r.PostFormValue("first_name")),
		Last: strings.TrimSpace(r.PostFormValue("last_name"))}
	reg := invite.Registration{Password: r.PostFormValue("password"), FirstName: iv.First, LastName: iv.Last}
	signedIn, _ := s.sessionUser(w, r)
	iv.SignedIn, reg.SignedIn = signedIn, signedIn
	if r.PostFormValue("mode") == "register" && reg.Password != r.PostFormValue("password_confirm") {
		iv.Errs = []account.FieldError{{Field: "password_confirm", Code: "mismatch", Message: "The two passwords are not the same."}}
		s.showInvite(w, r, http.StatusUnprocessableEntity, iv)
		return
	}
	acc, err := s.svc.Accept(r.Context(), token, reg)
	if err != nil {
		switch invite.CodeOf(err) {
		case invite.CodeValidation, invite.CodeWeakPassword, invite.CodeWrongPassword, invite.CodeEmailMismatch, invite.CodeConflict:
			iv.Errs, iv.Error = fieldsOf(err), s.messageOf(r, err)
			if len(iv.Errs) > 0 {
				iv.Error = "Please correct the fields marked below."
			}
			s.showInvite(w, r, problemFor(s.log, r, err).Status, iv)
		case "":
			s.errorPage(w, r, err, nil)
		default:
			// The link died meanwhile: show why.
			s.showInvite(w, r, http.StatusOK, iv)
		}
		return
	}
	if signedIn == nil || signedIn.ID != acc.User.ID {
		if err := s.startSession(w, r, acc.User); err != nil {
			s.errorPage(w, r, err, nil)
			return
		}
	}
	if acc.Status == invite.StatusAccepted && acc.RedirectURL != "" {
		redirect(w, r, acc.RedirectURL)
		return
	}
	redirect(w, r, "/i/"+token)
}

func (s *server) invitePageDecline(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.allowed(r, "accept", tokenKey(token)) {
		s.errorPage(w, r, errRateLimit, nil)
		return
	}
	if _, err := s.svc.Decline(r.Context(), token); err != nil && invite.CodeOf(err) == "" {
		s.errorPage(w, r, err, nil)
		return
	}
	redirect(w, r, "/i/"+token)
}

// invitePageRequestLink asks the inviter of an expired invitation for a new
// link.
func (s *server) invitePageRequestLink(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if !s.allowed(r, "accept", tokenKey(token)) {
		s.errorPage(w, r, errRateLimit, nil)
		return
	}
	inviter, err := s.svc.RequestNewLink(r.Context(), token)
	switch {
	case err == nil:
		s.setFlash(w, "ok", "We asked "+inviter+" to send you a new invitation. Watch your inbox.")
	case invite.CodeOf(err) == "":
		s.errorPage(w, r, err, nil)
		return
	default:
		s.setFlash(w, "bad", s.messageOf(r, err))
	}
	redirect(w, r, "/i/"+token)
}

// pageSignOut signs this browser out and goes back where it was.
func (s *server) pageSignOut(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r)
	s.setFlash(w, "ok", "You are signed out.")
	redirect(w, r, localPath(r.PostFormValue("next"), "/admin/"))
}

// localPath returns p if it is a path on this site, else def: no open
// redirects.
func localPath(p, def string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return def
	}
	return p
}
