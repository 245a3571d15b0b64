// Package bulk reads invitation spreadsheets (CSV and XLSX), validates each
// row on its own terms, and writes the templates people fill in.
//
// It is the engine behind every way into an import (API, admin console,
// CLI): it knows nothing of storage or HTTP. Outcomes that need the
// database (already invited, already a member, existing user) are decided
// by the caller after Checker.Check has done the static checks.
package bulk

import "fmt"

// Error codes, shared with the API's error vocabulary (api.md).
const (
	// CodeUnsupportedFile: the upload is neither a readable CSV (UTF-8 text)
	// nor a readable XLSX workbook.
	CodeUnsupportedFile = "unsupported_file"
	// CodePayloadTooLarge: the file is over the size or row limit.
	CodePayloadTooLarge = "payload_too_large"
	// CodeValidationFailed: the file can be read but not used as it is
	// (empty, no email column, duplicate columns, malformed CSV).
	CodeValidationFailed = "validation_failed"
)

// Error is the one error type the reader returns for problems with the
// file itself. Code is one of the Code constants, Message is a sentence
// meant for the person who uploaded the file, and Line, when not zero, is
// the row (XLSX) or line (CSV) the problem was found on.
type Error struct {
	Code    string
	Message string
	Line    int
	cause   error // for logs and errors.Is; never shown to the uploader
}

// Error returns the message with its origin and line: "bulk: line 3: ...".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("bulk: line %d: %s", e.Line, e.Message)
	}
	return "bulk: " + e.Message
}

// Unwrap returns the underlying error, if any (for example excelize's).
func (e *Error) Unwrap() error { return e.cause }

func errorf(code string, line int, format string, args ...any) *Error {
	return &Error{Code: code, Line: line, Message: fmt.Sprintf(format, args...)}
}

func causef(cause error, code string, line int, format string, args ...any) *Error {
	e := errorf(code, line, format, args...)
	e.cause = cause
	return e
}
