package invite

import (
	"errors"
	"fmt"

	"usher/internal/account"
)

// Codes are the stable, machine-readable error codes of api.md.
const (
	CodeValidation           = "validation_failed"
	CodeInvalidEmail         = "invalid_email"
	CodeAlreadyInvited       = "already_invited"
	CodeAlreadyMember        = "already_member"
	CodeInvitationNotFound   = "invitation_not_found"
	CodeInvitationExpired    = "invitation_expired"
	CodeInvitationRevoked    = "invitation_revoked"
	CodeInvitationUsed       = "invitation_used"
	CodeInvitationSuperseded = "invitation_superseded"
	CodeInvitationDeclined   = "invitation_declined"
	CodeInvalidTransition    = "invalid_transition"
	CodeWeakPassword         = "weak_password"
	CodeEmailMismatch        = "email_mismatch"
	CodeWrongPassword        = "wrong_password"
	CodeUsernameTaken        = "username_taken"
	CodeDomainNotAllowed     = "domain_not_allowed"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeConflict             = "conflict"
	CodeRateLimited          = "rate_limited"
)

// Error is a domain error: a stable code, a message safe to show to the
// person who caused it, and optionally the fields at fault.
type Error struct {
	Code    string
	Message string
	Fields  []account.FieldError
	Err     error // the underlying cause, for logs; never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("invite: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("invite: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error with code and a formatted message.
func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalid reports field errors as one validation_failed error.
func invalid(fields ...account.FieldError) *Error {
	msg := "the request has invalid fields"
	if len(fields) == 1 {
		msg = fields[0].Field + " " + fields[0].Message
	}
	return &Error{Code: CodeValidation, Message: msg, Fields: fields}
}

func fieldErr(field, code, msg string) account.FieldError {
	return account.FieldError{Field: field, Code: code, Message: msg}
}

// CodeOf returns err's domain code, or "" for an error that is not one.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Storage errors the Store returns; the service turns them into domain errors.
var (
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("invite: not found")
	// ErrConflict: a unique constraint or an optimistic version check failed
	// because of a concurrent change.
	ErrConflict = errors.New("invite: conflict")
	// ErrUserExists: an account has the email (CreateInvitation with
	// newEmail set).
	ErrUserExists = errors.New("invite: an account has this email")
)

// deadLinkError explains why a token cannot be used (product.md §4.7).
func deadLinkError(s Status) *Error {
	switch s {
	case StatusExpired:
		return errorf(CodeInvitationExpired, "this invitation has expired")
	case StatusRevoked:
		return errorf(CodeInvitationRevoked, "this invitation was withdrawn")
	case StatusDeclined:
		return errorf(CodeInvitationDeclined, "this invitation was declined")
	case StatusAccepted, StatusAwaitingApproval, StatusRejected:
		return errorf(CodeInvitationUsed, "this invitation has already been used")
	case StatusDraft:
		return errorf(CodeInvitationNotFound, "this invitation does not exist")
	}
	return errorf(CodeInvalidTransition, "this invitation cannot be used now")
}

func transitionError(a Action, s Status) *Error {
	return errorf(CodeInvalidTransition, "cannot %s an invitation that is %s", a, s)
}
