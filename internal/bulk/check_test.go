package bulk

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr(b bool) *bool { return &b }

func newTestChecker() *Checker {
	return NewChecker(
		Defaults{Language: "EN_gb", Role: "MEMBER", Groups: []string{"support", "Support"}, Admin: true},
		[]string{"owner", "admin", "member", "Reviewer"},
		[]string{"Sales", "Support", "R&D"},
	)
}

// TestCheck runs one file's records through one Checker, then through
// Duplicates (in order, since duplicates depend on what came before).
func TestCheck(t *testing.T) {
	t.Parallel()
	def := Row{Language: "en-GB", Role: "member", Groups: []string{"Support"}, IsAdmin: true, Outcome: OutcomeOK}
	with := func(r Row, f func(*Row)) Row { f(&r); return r }
	tests := []struct {
		rec  Record
		want Row
	}{
		{
			rec:  rec(2, ColEmail, "Ana@Example.COM"),
			want: with(def, func(r *Row) { r.Line, r.Email = 2, "ana@example.com" }),
		},
		{
			rec: rec(3, ColEmail, "bo@example.com", ColFirstName, "Bo", ColLastName, "Berg", ColLanguage, "nl_be",
				ColRole, "reviewer", ColGroups, "sales; R&D ,, SALES", ColAdmin, "Nee"),
			want: Row{Line: 3, Email: "bo@example.com", FirstName: "Bo", LastName: "Berg", Language: "nl-BE",
				Role: "Reviewer", Groups: []string{"Sales", "R&D"}, Admin: ptr(false), IsAdmin: false, Outcome: OutcomeOK},
		},
		{
			rec: rec(4, ColEmail, "cy@example.com", ColAdmin, "TRUE", ColGroups, ";"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Admin, r.Groups = 4, "cy@example.com", ptr(true), []string{}
			}),
		},
		{
			rec: rec(5, ColEmail, "ana@example"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Outcome, r.Detail = 5, "ana@example", OutcomeInvalidEmail, "domain has no dot"
			}),
		},
		{
			rec:  rec(6, ColFirstName, "Nobody"),
			want: with(def, func(r *Row) { r.Line, r.FirstName, r.Outcome, r.Detail = 6, "Nobody", OutcomeInvalidEmail, "empty" }),
		},
		{
			rec: rec(7, ColEmail, "ANA@example.com", ColFirstName, "Ana"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.FirstName, r.Outcome, r.Detail = 7, "ana@example.com", "Ana", OutcomeDuplicate, "duplicate of row 2"
			}),
		},
		{
			rec: rec(8, ColEmail, "dee@example.com", ColAdmin, "maybe"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Outcome = 8, "dee@example.com", OutcomeInvalidValue
				r.Detail = `invalid value for admin: "maybe" (use true or false, yes or no, 1 or 0)`
			}),
		},
		{
			// The address of a row with a bad value still counts: its
			// repeat names it.
			rec: rec(9, ColEmail, "dee@example.com"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Outcome, r.Detail = 9, "dee@example.com", OutcomeDuplicate, "duplicate of row 8"
			}),
		},
		{
			rec: rec(10, ColEmail, "eve@example.com", ColLanguage, "xx-yy", ColRole, "boss"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Language, r.Role, r.Outcome = 10, "eve@example.com", "xx-yy", "boss", OutcomeInvalidValue
				r.Detail = `invalid value for language: "xx-yy" (use a language code such as "en" or "nl-BE"); ` +
					`invalid value for role: "boss" is not a role of this organization`
			}),
		},
		{
			rec: rec(11, ColEmail, "fay@example.com", ColFirstName, strings.Repeat("é", 101), ColLastName, "Line\nbreak",
				ColLanguage, strings.Repeat("a", 36)),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.FirstName, r.LastName, r.Language = 11, "fay@example.com", strings.Repeat("é", 101), "Line\nbreak", strings.Repeat("a", 36)
				r.Outcome = OutcomeInvalidValue
				r.Detail = "invalid value for first_name: longer than 100 characters; " +
					"invalid value for last_name: contains a line break or another control character; " +
					"invalid value for language: longer than 35 characters"
			}),
		},
		{
			rec: rec(12, ColEmail, "gus@example.com", ColGroups, "Sales, Foo"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Groups, r.Outcome, r.Detail = 12, "gus@example.com", []string{"Sales", "Foo"}, OutcomeUnknownGroup, `unknown group "Foo"`
			}),
		},
		{
			rec: rec(13, ColEmail, "hal@example.com", ColGroups, "Foo;bar;FOO"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Groups, r.Outcome, r.Detail = 13, "hal@example.com", []string{"Foo", "bar"}, OutcomeUnknownGroup, `unknown groups "Foo", "bar"`
			}),
		},
		{
			// Invalid values win over unknown groups.
			rec: rec(14, ColEmail, "ida@example.com", ColGroups, "Foo", ColAdmin, "2"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Groups, r.Outcome = 14, "ida@example.com", []string{"Foo"}, OutcomeInvalidValue
				r.Detail = `invalid value for admin: "2" (use true or false, yes or no, 1 or 0)`
			}),
		},
		{
			rec: rec(15, ColEmail, "jo@example.com", ColLanguage, "und"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Language, r.Outcome = 15, "jo@example.com", "und", OutcomeInvalidValue
				r.Detail = `invalid value for language: "und" (use a language code such as "en" or "nl-BE")`
			}),
		},
		{
			// Being a duplicate wins over a bad value (the value stays).
			rec: rec(16, ColEmail, "Eve@EXAMPLE.com", ColAdmin, "2", ColGroups, "Nope"),
			want: with(def, func(r *Row) {
				r.Line, r.Email, r.Groups, r.Outcome, r.Detail = 16, "eve@example.com", []string{"Nope"}, OutcomeDuplicate, "duplicate of row 10"
			}),
		},
	}
	c := newTestChecker()
	rows := make([]Row, len(tests))
	for i, tt := range tests {
		rows[i] = c.Check(tt.rec)
	}
	if err := NewDuplicates(0).Mark(rows, nil); err != nil {
		t.Fatalf("Mark: %v", err)
	}
	for i, tt := range tests {
		if diff := cmp.Diff(tt.want, rows[i]); diff != "" {
			t.Errorf("Check and Mark(line %d) mismatch (-want +got):\n%s", tt.rec.Line, diff)
		}
	}
}

func TestParseBool(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in    string
		v, ok bool
	}{
		{"TRUE", true, true}, {"False", false, true}, {"yes", true, true}, {"NO", false, true},
		{"y", true, true}, {"n", false, true}, {"1", true, true}, {"0", false, true},
		{"ja", true, true}, {"nee", false, true}, {"oui", true, true}, {"non", false, true},
		{"WAHR", true, true}, {"FAUX", false, true}, {"onwaar", false, true},
		{"maybe", false, false}, {"", false, false}, {"2", false, false}, {"yes!", false, false},
	} {
		if v, ok := parseBool(tt.in); v != tt.v || ok != tt.ok {
			t.Errorf("parseBool(%q) = %v, %v, want %v, %v", tt.in, v, ok, tt.v, tt.ok)
		}
	}
}

func TestEmailSetCollision(t *testing.T) {
	t.Parallel()
	s := newEmailSet()
	if _, dup := s.add("ana@example.com", 2); dup {
		t.Fatal("first address reported as duplicate")
	}
	// Force a full 64-bit collision: copy ana's slot to where bo's probe
	// sequence starts, with bo's high hash bits, as if the two addresses
	// hashed alike.
	var ana uint64
	for _, v := range s.slots {
		if v != 0 {
			ana = v
		}
	}
	hb := hashOf(s, "bo@example.com")
	s.slots[hb&uint64(len(s.slots)-1)] = hb>>32<<32 | uint64(uint32(ana))
	if first, dup := s.add("bo@example.com", 3); dup {
		t.Fatalf("add(bo) after a hash collision = duplicate of row %d, want not a duplicate", first)
	}
	if first, dup := s.add("bo@example.com", 5); !dup || first != 3 {
		t.Errorf("add(bo) again = %d, %v, want duplicate of row 3", first, dup)
	}
	if first, dup := s.add("ana@example.com", 6); !dup || first != 2 {
		t.Errorf("add(ana) again = %d, %v, want duplicate of row 2", first, dup)
	}
}

func TestEmailSetManyChunks(t *testing.T) {
	t.Parallel()
	s := newEmailSet()
	long := strings.Repeat("x", 200)
	n := 3 * chunkSize / 220 // spans several chunks and table sizes
	for i := range n {
		if _, dup := s.add(long+itoa(i)+"@example.com", i+2); dup {
			t.Fatalf("add(#%d) reported a duplicate", i)
		}
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if first, dup := s.add(long+itoa(i)+"@example.com", n+10); !dup || first != i+2 {
			t.Errorf("add(#%d) again = %d, %v, want duplicate of row %d", i, first, dup, i+2)
		}
	}
	if len(s.chunks) < 3 {
		t.Errorf("%d chunks, want at least 3", len(s.chunks))
	}
}

func TestEmailSetManyDomains(t *testing.T) {
	t.Parallel()
	s := newEmailSet()
	n := maxDomains + 1000 // past the dictionary: the rest are stored inline
	for i := range n {
		if _, dup := s.add("ana@d"+itoa(i)+".example", i+2); dup {
			t.Fatalf("add(#%d) reported a duplicate", i)
		}
	}
	for _, i := range []int{0, maxDomains - 1, maxDomains, n - 1} {
		if first, dup := s.add("ana@d"+itoa(i)+".example", n+10); !dup || first != i+2 {
			t.Errorf("add(#%d) again = %d, %v, want duplicate of row %d", i, first, dup, i+2)
		}
		if _, dup := s.add("bo@d"+itoa(i)+".example", n+11); dup {
			t.Errorf("add(bo #%d) reported a duplicate", i)
		}
	}
}
