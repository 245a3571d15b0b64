package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

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
		return decodeError(err, v)
	}
	if dec.More() {
		return errorf(invite.CodeValidation, "the body must hold one JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(invite.CodeValidation, "the body must hold one JSON object")
	}
	return nil
}

// decodeError explains err, from decoding a body into v (nil if it was
// not read into a value).
func decodeError(err error, v any) error {
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
	case errors.As(err, &typ) && typ.Field == "":
		return errorf(invite.CodeValidation, "the body must hold one JSON object")
	case errors.As(err, &typ):
		field, want := bodyPath(reflect.TypeOf(v), typ.Field), jsonType(typ.Type)
		return errorf(invite.CodeValidation, fmt.Sprintf("%s must be %s", field, want),
			account.FieldError{Field: field, Code: "invalid_type", Message: "must be " + want})
	case errors.As(err, new(*time.ParseError)), strings.HasPrefix(err.Error(), "Time.UnmarshalJSON:"):
		return errorf(invite.CodeValidation, "a time must be a string in RFC 3339 form, such as 2026-12-31T17:00:00Z")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errorf(invite.CodeValidation, fmt.Sprintf("unknown field %q", field),
			account.FieldError{Field: field, Code: "unknown_field", Message: "is not a field of this request"})
	}
	return errorf(invite.CodeValidation, "the body could not be read as JSON")
}

// bodyPath returns path, where encoding/json says a value of type t held
// a wrong type, as the body's field names: json also names the structs
// embedded on the way, by their Go names ("optionsJSON.groups").
func bodyPath(t reflect.Type, path string) string {
	var out []string
	for seg := range strings.SplitSeq(path, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			out, t = append(out, seg), nil
			continue
		}
		if f, ok := t.FieldByName(seg); ok && f.Anonymous && len(f.Index) == 1 {
			t = f.Type // an embedded struct: its fields are the body's
			continue
		}
		out, t = append(out, seg), jsonFieldType(t, seg)
	}
	return strings.Join(out, ".")
}

// jsonFieldType returns the type of struct t's field that JSON names name,
// embedded structs' included (nil if none).
func jsonFieldType(t reflect.Type, name string) reflect.Type {
	for _, f := range reflect.VisibleFields(t) {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || tag == "" && f.Name == name {
			return f.Type
		}
	}
	return nil
}

// jsonType names the JSON a Go type is read from.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "an object"
}
