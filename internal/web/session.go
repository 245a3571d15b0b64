package web

import (
	"errors"
	"net/http"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore"
)

const sessionCookie = "usher_session"

// sessionActor resolves the session cookie, enforcing the idle and
// absolute timeouts.
func (s *server) sessionActor(w http.ResponseWriter, r *http.Request) (invite.Actor, bool) {
	u, ok := s.sessionUser(w, r)
	if !ok {
		return invite.Actor{}, false
	}
	return invite.Actor{UserID: u.ID, Email: u.Email, Name: u.Name(), InstanceAdmin: u.InstanceAdmin}, true
}

func (s *server) sessionUser(w http.ResponseWriter, r *http.Request) (*account.User, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 100 {
		return nil, false
	}
	hash := invite.HashToken(c.Value)
	ses, err := s.store.SessionByHash(r.Context(), hash)
	if err != nil {
		if !errors.Is(err, invite.ErrNotFound) {
			s.log.Error("session lookup", "err", err)
		}
		return nil, false
	}
	now := s.svc.Now()
	if now.Sub(ses.LastSeenAt) > s.cfg.SessionIdle || now.Sub(ses.CreatedAt) > s.cfg.SessionMax {
		s.store.DeleteSessions(r.Context(), hash, "")
		s.clearSession(w)
		return nil, false
	}
	if now.Sub(ses.LastSeenAt) > time.Minute {
		if err := s.store.TouchSession(r.Context(), hash, now); err != nil {
			s.log.Warn("touch session", "err", err)
		}
	}
	u, err := s.svc.User(r.Context(), ses.UserID)
	if err != nil {
		return nil, false
	}
	return u, true
}

// startSession signs u in on this browser.
func (s *server) startSession(w http.ResponseWriter, r *http.Request, u *account.User) error {
	secret := invite.NewSecret("")
	now := s.svc.Now()
	if err := s.store.CreateSession(r.Context(), sqlstore.Session{Hash: invite.HashToken(secret), UserID: u.ID,
		CreatedAt: now, LastSeenAt: now}); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.SessionMax / time.Second)})
	return nil
}

func (s *server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// endSession signs this browser out.
func (s *server) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.store.DeleteSessions(r.Context(), invite.HashToken(c.Value), "")
	}
	s.clearSession(w)
}

type userJSON struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Username      string `json:"username"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	InstanceAdmin bool   `json:"instance_admin"`
}

func userToJSON(u *account.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName, InstanceAdmin: u.InstanceAdmin}
}

// apiSignIn is POST /api/v1/session: email and password → session cookie.
func (s *server) apiSignIn(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.throttle(w, r, "signin", body.Email) {
		return
	}
	u, err := s.svc.SignIn(r.Context(), body.Email, body.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, map[string]any{"user": userToJSON(u)})
}

func (s *server) apiSignOut(w http.ResponseWriter, r *http.Request) {
	s.endSession(w, r)
	w.WriteHeader(http.StatusNoContent)
}
