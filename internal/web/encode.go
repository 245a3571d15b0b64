package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"usher/internal/account"
	"usher/internal/invite"
)

// maxBody bounds JSON request bodies (a batch of 1,000 addresses with
// options fits comfortably).
const maxBody = 1 << 20

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// decode reads a JSON body into v: bounded in size, unknown fields
// refused, exactly one value.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(codeUnsupportedFile, "send the body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return errorf(invite.CodeValidation, "the body must hold one JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(invite.CodeValidation, "the body must hold one JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(codePayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes", tooLarge.Limit))
	case errors.Is(err, io.EOF):
		return errorf(invite.CodeValidation, "the body is empty; send a JSON object")
	case errors.As(err, &syntax):
		return errorf(invite.CodeValidation, fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset))
	case errors.As(err, &typ):
		field := typ.Field
		return errorf(invite.CodeValidation, fmt.Sprintf("%s must be %s", field, jsonType(typ.Type.String())),
			account.FieldError{Field: field, Code: "invalid_type", Message: "must be " + jsonType(typ.Type.String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errorf(invite.CodeValidation, fmt.Sprintf("unknown field %q", field),
			account.FieldError{Field: field, Code: "unknown_field", Message: "is not a field of this request"})
	}
	return errorf(invite.CodeValidation, "the body could not be read as JSON")
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"), strings.HasPrefix(goType, "*[]"):
		return "an array"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "string"):
		return "a string"
	}
	return "an object"
}
