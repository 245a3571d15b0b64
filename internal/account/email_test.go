package account

import (
	"errors"
	"slices"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"ana@example.com":             "ana@example.com",
		"  Ana.Silva@Example.COM ":    "ana.silva@example.com",
		"o'brien+tag@mail.example.ie": "o'brien+tag@mail.example.ie",
		"jürgen@bücher.de":            "jürgen@bücher.de",
		"x@xn--bcher-kva.de":          "x@xn--bcher-kva.de",
	}
	for in, want := range good {
		got, err := NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q, nil", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                              "empty",
		"ana":                           "missing @",
		"@example.com":                  "nothing before @",
		"ana@":                          "nothing after @",
		"ana@localhost":                 "domain has no dot",
		"ana smith@example.com":         "contains a space",
		"ana@example.com\r\nBcc: x@y.z": "contains a space",
		"ana@@example.com":              "more than one @",
		"a..b@example.com":              "two dots in a row",
		".a@example.com":                "part before @ starts or ends with a dot",
		"ana@-example.com":              "a domain part starts or ends with a hyphen",
		"ana@example..com":              "domain has an empty part",
		"ana@1.2.3.4":                   "domain ends in a number",
		"\"ana\"@example.com":           `character '"' is not allowed`,
		"Ana <ana@example.com>":         "contains a space",
		"ana@exa_mple.com":              `character "_" is not allowed in the domain`,
		"ana\x00@example.com":           "contains a control character",
	}
	for in, reason := range bad {
		_, err := NormalizeEmail(in)
		var ee *EmailError
		if !errors.As(err, &ee) || ee.Reason != reason || !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%q) error = %v, want reason %q", in, err, reason)
		}
	}
}

func TestSplitEmailList(t *testing.T) {
	t.Parallel()
	got := SplitEmailList("a@x.io, b@x.io;c@x.io\n d@x.io\t;;e@x.io ")
	want := []string{"a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"}
	if !slices.Equal(got, want) {
		t.Errorf("SplitEmailList = %q, want %q", got, want)
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ana@example.com", "a@b", "\"q\"@x.y", "é@ü.de", "a@b.c\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeEmail not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
		for _, r := range got {
			if r == '\r' || r == '\n' || r == ' ' || r == '<' || r == '>' || r == ',' {
				t.Fatalf("NormalizeEmail(%q) = %q keeps %q", s, got, r)
			}
		}
	})
}
