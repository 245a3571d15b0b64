package web

import (
	"mime"
	"net/http"
	"slices"

	"usher/internal/account"
	"usher/internal/invite"
)

// passwordCheck answers which rules of a policy a password breaks, for the
// live check of the registration and reset forms: the common-password
// list lives on the server. It changes nothing and never logs the
// password; the forms check again on submit. Body: the form fields (or a
// JSON object) password and policy (nist or strict; nist if empty).
func (s *server) passwordCheck(w http.ResponseWriter, r *http.Request) {
	if !s.throttle(w, r, "password-check", "") {
		return
	}
	var in struct {
		Password string `json:"password"`
		Policy   string `json:"policy"`
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		if err := decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, errorf(invite.CodeValidation, "send password and policy as form fields"))
			return
		}
		in.Password, in.Policy = r.PostFormValue("password"), r.PostFormValue("policy")
	}
	pol := account.PasswordPolicy(in.Policy)
	if pol == "" {
		pol = account.PolicyNIST
	}
	if !pol.Valid() {
		s.fail(w, r, errorf(invite.CodeValidation, "policy must be nist or strict",
			account.FieldError{Field: "policy", Code: "invalid", Message: "must be nist or strict"}))
		return
	}
	out := struct {
		Broken []account.Rule `json:"broken"`
	}{Broken: pol.Check(in.Password)}
	if out.Broken == nil {
		out.Broken = []account.Rule{}
	}
	w.Header().Set("Cache-Control", "no-store")
	encode(w, http.StatusOK, out)
}

// policyOf names the policy whose rules these are when the browser needs
// the server to check one of them (the common-password list); "" when
// the browser can check every rule itself.
func policyOf(rules []account.Rule) string {
	if slices.ContainsFunc(rules, func(r account.Rule) bool { return r.Code == "common" }) {
		return string(account.PolicyNIST)
	}
	return ""
}
