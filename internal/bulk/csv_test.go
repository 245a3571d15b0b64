package bulk

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		header   []Column
		warnings []string
		want     []Record
	}{
		{
			name:   "comma",
			in:     "email,first_name,last_name\nana@example.com,Ana,Pereira\nbo@example.com,Bo,\n",
			header: []Column{ColEmail, ColFirstName, ColLastName},
			want: []Record{
				rec(2, ColEmail, "ana@example.com", ColFirstName, "Ana", ColLastName, "Pereira"),
				rec(3, ColEmail, "bo@example.com", ColFirstName, "Bo"),
			},
		},
		{
			name:   "semicolon, groups with commas stay one value",
			in:     "email;groups;admin\nana@example.com;Sales,Support;1\n",
			header: []Column{ColEmail, ColGroups, ColAdmin},
			want:   []Record{rec(2, ColEmail, "ana@example.com", ColGroups, "Sales,Support", ColAdmin, "1")},
		},
		{
			name:     "quoted comma in the header does not fool the delimiter count",
			in:       "\"email, work\";email\nx;ana@example.com\n",
			header:   []Column{ColEmail},
			warnings: []string{`unknown column "email, work" ignored`},
			want:     []Record{rec(2, ColEmail, "ana@example.com")},
		},
		{
			name:   "BOM and CRLF",
			in:     "\uFEFFEmail,Language\r\nana@example.com,nl-BE\r\n",
			header: []Column{ColEmail, ColLanguage},
			want:   []Record{rec(2, ColEmail, "ana@example.com", ColLanguage, "nl-BE")},
		},
		{
			name:   "quoted fields with commas and newlines; rows count like a spreadsheet",
			in:     "email,first_name,groups\n\"ana@example.com\",\"Ana\nMaria\",\"Sales, Support\"\nbo@example.com,Bo,\n",
			header: []Column{ColEmail, ColFirstName, ColGroups},
			want: []Record{
				rec(2, ColEmail, "ana@example.com", ColFirstName, "Ana\nMaria", ColGroups, "Sales, Support"),
				rec(3, ColEmail, "bo@example.com", ColFirstName, "Bo"),
			},
		},
		{
			name:   "blank lines and empty rows skipped but counted",
			in:     "\nemail\n\nana@example.com\n,\n  \nbo@example.com",
			header: []Column{ColEmail},
			want:   []Record{rec(4, ColEmail, "ana@example.com"), rec(7, ColEmail, "bo@example.com")},
		},
		{
			name:   "short and long rows",
			in:     "email,first_name,last_name\nana@example.com\nbo@example.com,Bo,B,extra\n",
			header: []Column{ColEmail, ColFirstName, ColLastName},
			want: []Record{
				rec(2, ColEmail, "ana@example.com"),
				rec(3, ColEmail, "bo@example.com", ColFirstName, "Bo", ColLastName, "B"),
			},
		},
		{
			name: "aliases, case and spacing",
			in: "E-Mail Address , First Name,SURNAME,lang,Group,Is_Admin,Role\n" +
				" ana@example.com ,Ana,Pereira,nl,Sales,yes,member\n",
			header: []Column{ColEmail, ColFirstName, ColLastName, ColLanguage, ColGroups, ColAdmin, ColRole},
			want: []Record{rec(2, ColEmail, "ana@example.com", ColFirstName, "Ana", ColLastName, "Pereira",
				ColLanguage, "nl", ColGroups, "Sales", ColAdmin, "yes", ColRole, "member")},
		},
		{
			name:     "unknown columns warned and ignored; unnamed columns ignored silently",
			in:       "Phone,mail,Department,\n123,ana@example.com,HR,x\n",
			header:   []Column{ColEmail},
			warnings: []string{`unknown column "Phone" ignored`, `unknown column "Department" ignored`},
			want:     []Record{rec(2, ColEmail, "ana@example.com")},
		},
		{
			name:   "header only is zero rows",
			in:     "email,first_name\n",
			header: []Column{ColEmail, ColFirstName},
		},
		{
			name:     "row with only an unknown column is not blank",
			in:       "email,notes\n,call first\n",
			header:   []Column{ColEmail},
			warnings: []string{`unknown column "notes" ignored`},
			want:     []Record{rec(2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := open([]byte(tt.in), "list.csv", Limits{})
			if err != nil {
				t.Fatalf("Open(%q) error: %v", tt.in, err)
			}
			defer r.Close()
			if diff := cmp.Diff(tt.header, r.Header()); diff != "" {
				t.Errorf("Header() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, r.Warnings()); diff != "" {
				t.Errorf("Warnings() mismatch (-want +got):\n%s", diff)
			}
			got, err := readAll(r)
			if err != nil {
				t.Fatalf("Next() error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSVRefused(t *testing.T) {
	t.Parallel()
	many := "email\n" + strings.Repeat("ana@example.com\n", 11)
	tests := []struct {
		name      string
		in        string
		filename  string
		lim       Limits
		code      string
		line      int
		onNext    bool   // the error comes from Next rather than Open
		recsFirst int    // records returned before the error
		msg       string // part of the message
	}{
		{name: "empty file", in: "", code: CodeValidationFailed, msg: "empty"},
		{name: "only blank lines", in: "\n\r\n  \n", code: CodeValidationFailed, msg: "empty"},
		{name: "no email column", in: "name,phone\nAna,123\n", code: CodeValidationFailed, line: 1, msg: "no email column"},
		{name: "data without header", in: "ana@example.com\nbo@example.com\n", code: CodeValidationFailed, line: 1, msg: "no header row"},
		{name: "duplicate column", in: "email,E-mail\na@b.co,c@d.co\n", code: CodeValidationFailed, line: 1, msg: `"email" and "E-mail"`},
		{name: "Latin-1", in: "email,first_name\nana@example.com,Jos\xe9\n", code: CodeUnsupportedFile, line: 2, msg: "not UTF-8"},
		{name: "binary", in: "email\x00\x01\x02", code: CodeUnsupportedFile, msg: "binary"},
		{name: "UTF-16", in: "\xff\xfee\x00m\x00", code: CodeUnsupportedFile, msg: "UTF-16"},
		{name: "PDF", in: "%PDF-1.4\n1 0 obj\n", code: CodeUnsupportedFile, msg: "PDF"},
		{name: "PNG", in: "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", code: CodeUnsupportedFile},
		{name: "text named .xlsx", in: "email\nana@example.com\n", filename: "list.xlsx", code: CodeUnsupportedFile, msg: ".xlsx"},
		{name: "too large", in: many, lim: Limits{MaxBytes: 20}, code: CodePayloadTooLarge, msg: "larger than 20 bytes"},
		{name: "too many rows", in: many, lim: Limits{MaxRows: 10}, code: CodePayloadTooLarge, onNext: true, recsFirst: 10, msg: "more than 10 rows"},
		{name: "too many blank rows", in: "email\n" + strings.Repeat(",\n", 11) + "ana@example.com\n", lim: Limits{MaxRows: 10}, code: CodePayloadTooLarge, onNext: true, msg: "more than 10 empty rows"},
		{name: "too many blank rows before the header", in: strings.Repeat(";\n", 11) + "email\n", lim: Limits{MaxRows: 10}, code: CodePayloadTooLarge, msg: "empty rows"},
		{name: "bare quote", in: "email,first_name\nana@example.com,An\"a\n", code: CodeValidationFailed, line: 2, onNext: true, msg: "quote"},
		{name: "unclosed quote", in: "email\nana@example.com\n\"bo@example.com\nx\ny\n", code: CodeValidationFailed, line: 3, onNext: true, recsFirst: 1, msg: "not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := tt.filename
			if name == "" {
				name = "list.csv"
			}
			r, err := open([]byte(tt.in), name, tt.lim)
			var recs []Record
			if err == nil {
				defer r.Close()
				if !tt.onNext {
					t.Fatalf("Open(%q) succeeded, want %s", tt.in, tt.code)
				}
				recs, err = readAll(r)
			} else if tt.onNext {
				t.Fatalf("Open(%q) error %v, want it from Next", tt.in, err)
			}
			if got := errCode(err); got != tt.code {
				t.Fatalf("read %q: error %v (code %q), want code %q", tt.in, err, got, tt.code)
			}
			e := err.(*Error)
			if e.Line != tt.line {
				t.Errorf("read %q: error line = %d, want %d (%v)", tt.in, e.Line, tt.line, err)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("read %q: message %q, want it to mention %q", tt.in, e.Message, tt.msg)
			}
			if len(recs) != tt.recsFirst {
				t.Errorf("read %q: %d records before the error, want %d", tt.in, len(recs), tt.recsFirst)
			}
			// The error is sticky.
			if r != nil && tt.onNext {
				if _, err2 := r.Next(); err2 != err {
					t.Errorf("Next after error = %v, want the same error %v", err2, err)
				}
			}
		})
	}
}

func TestCSVExactRowLimit(t *testing.T) {
	t.Parallel()
	in := "email\n" + strings.Repeat("ana@example.com\n\n", 10) // blank lines do not count
	r, err := open([]byte(in), "x.csv", Limits{MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(r)
	if err != nil || len(recs) != 10 {
		t.Fatalf("read 10 rows with MaxRows 10: %d records, error %v; want 10, nil", len(recs), err)
	}
}

func TestCSVUTF8RuneAcrossReadBoundary(t *testing.T) {
	t.Parallel()
	// checkText reads 64 KiB at a time; put a multi-byte rune across the
	// boundary and make sure valid text is not refused.
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for b.Len() < 64<<10-40 {
		b.WriteString("a@example.com,x\n")
	}
	pad := 64<<10 - 1 - b.Len()
	b.WriteString(strings.Repeat("x", pad) + "é@example.com,Zoë\n")
	r, err := open([]byte(b.String()), "x.csv", Limits{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	if _, err := readAll(r); err != nil {
		t.Fatalf("Next: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		e    *Error
		want string
	}{
		{&Error{Code: CodeValidationFailed, Message: "the file is empty"}, "bulk: the file is empty"},
		{&Error{Code: CodeValidationFailed, Message: "x", Line: 3}, "bulk: line 3: x"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if got, want := formatCount(100000), "100,000"; got != want {
		t.Errorf("formatCount(100000) = %q, want %q", got, want)
	}
	if got, want := formatBytes(DefaultMaxBytes), "20 MB"; got != want {
		t.Errorf("formatBytes(default) = %q, want %q", got, want)
	}
}
