package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"usher/internal/account"
	"usher/internal/invite"
)

// Codes the web layer adds to the domain's.
const (
	codePayloadTooLarge     = "payload_too_large"
	codeUnsupportedFile     = "unsupported_file"
	codeIdempotencyConflict = "idempotency_conflict"
	codeMethodNotAllowed    = "method_not_allowed"
	codeInternal            = "internal_error"
)

// statusOf maps every error code to its HTTP status, in one place.
var statusOf = map[string]int{
	invite.CodeValidation:           http.StatusUnprocessableEntity,
	invite.CodeInvalidEmail:         http.StatusUnprocessableEntity,
	invite.CodeWeakPassword:         http.StatusUnprocessableEntity,
	invite.CodeDomainNotAllowed:     http.StatusUnprocessableEntity,
	invite.CodeUsernameTaken:        http.StatusConflict,
	invite.CodeAlreadyInvited:       http.StatusConflict,
	invite.CodeAlreadyMember:        http.StatusConflict,
	invite.CodeInvalidTransition:    http.StatusConflict,
	invite.CodeConflict:             http.StatusConflict,
	invite.CodeInvitationUsed:       http.StatusConflict,
	invite.CodeInvitationNotFound:   http.StatusNotFound,
	invite.CodeNotFound:             http.StatusNotFound,
	invite.CodeInvitationExpired:    http.StatusGone,
	invite.CodeInvitationRevoked:    http.StatusGone,
	invite.CodeInvitationSuperseded: http.StatusGone,
	invite.CodeInvitationDeclined:   http.StatusGone,
	invite.CodeEmailMismatch:        http.StatusForbidden,
	invite.CodeWrongPassword:        http.StatusForbidden,
	invite.CodeUnauthorized:         http.StatusUnauthorized,
	invite.CodeForbidden:            http.StatusForbidden,
	invite.CodeRateLimited:          http.StatusTooManyRequests,
	codePayloadTooLarge:             http.StatusRequestEntityTooLarge,
	codeUnsupportedFile:             http.StatusUnsupportedMediaType,
	codeIdempotencyConflict:         http.StatusUnprocessableEntity,
	codeMethodNotAllowed:            http.StatusMethodNotAllowed,
	codeInternal:                    http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem document with usher's stable code.
type Problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Code   string               `json:"code"`
	Errors []account.FieldError `json:"errors,omitempty"`
}

// problemFor turns any error into the problem to show: domain errors as
// they are, everything else as an internal error with a safe message
// (and logged in full).
func problemFor(log *slog.Logger, r *http.Request, err error) Problem {
	var de *invite.Error
	if errors.As(err, &de) {
		status, ok := statusOf[de.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		return Problem{Type: "https://usher.dev/errors/" + de.Code, Title: http.StatusText(status), Status: status,
			Detail: de.Message, Code: de.Code, Errors: de.Fields}
	}
	if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
		return Problem{Type: "about:blank", Title: "Client Closed Request", Status: 499, Detail: "the request was cancelled", Code: "cancelled"}
	}
	log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return Problem{Type: "about:blank", Title: "Internal Server Error", Status: http.StatusInternalServerError,
		Detail: "something went wrong on our side; the error was logged", Code: codeInternal}
}

// fail writes err as application/problem+json.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(s.log, r, err)
	w.Header().Set("Content-Type", "application/problem+json")
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="usher"`)
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// errorf builds a domain-style error for the web layer's own failures.
func errorf(code, msg string, fields ...account.FieldError) error {
	return &invite.Error{Code: code, Message: msg, Fields: fields}
}
