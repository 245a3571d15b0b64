package web

import (
	"net/http"

	"usher/internal/invite"
)

func (s *server) getProfile(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	p, err := s.svc.MemberProfile(r.Context(), a, r.PathValue("org"), r.PathValue("user_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, p)
}

func (s *server) putProfile(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Phone      string `json:"phone"`
		JobTitle   string `json:"job_title"`
		Department string `json:"department"`
		Address    string `json:"address"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.svc.UpdateProfile(r.Context(), a, r.PathValue("org"), r.PathValue("user_id"),
		invite.ProfileFields{Phone: body.Phone, JobTitle: body.JobTitle, Department: body.Department, Address: body.Address})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, p)
}

func (s *server) verifyProfile(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	p, err := s.svc.VerifyProfile(r.Context(), a, r.PathValue("org"), r.PathValue("user_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, p)
}
