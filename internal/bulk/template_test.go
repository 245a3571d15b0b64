package bulk

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

// TestTemplatesReadBack makes sure both templates go through Open, Next
// and Check as a person would upload them unchanged.
func TestTemplatesReadBack(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"import-template.csv", func(b *bytes.Buffer) error { return WriteTemplateCSV(b) }},
		{"import-template.xlsx", func(b *bytes.Buffer) error { return WriteTemplateXLSX(b) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatalf("write template: %v", err)
			}
			r, err := open(buf.Bytes(), tt.name, Limits{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			if diff := cmp.Diff([]Column{ColEmail, ColFirstName, ColLastName, ColLanguage, ColGroups, ColAdmin, ColRole}, r.Header()); diff != "" {
				t.Errorf("Header() mismatch (-want +got):\n%s", diff)
			}
			if w := r.Warnings(); len(w) != 0 {
				t.Errorf("Warnings() = %q, want none", w)
			}
			recs, err := readAll(r)
			if err != nil || len(recs) != 1 {
				t.Fatalf("read template: %d records, error %v; want 1 record", len(recs), err)
			}
			c := NewChecker(Defaults{}, []string{"owner", "admin", "member"}, []string{"Sales", "Support"})
			got := c.Check(recs[0])
			want := Row{Line: 2, Email: "ana.pereira@example.com", FirstName: "Ana", LastName: "Pereira", Language: "nl-BE",
				Role: "member", Groups: []string{"Sales", "Support"}, Admin: ptr(false), Outcome: OutcomeOK}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Check(line 2) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplateXLSXSheets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteTemplateXLSX(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.GetSheetList(), []string{"Invitations", "Columns"}; !cmp.Equal(got, want) {
		t.Errorf("sheets = %q, want %q", got, want)
	}
	rows, err := f.GetRows("Columns")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range columnNames {
		if len(rows) <= i+1 || rows[i+1][0] != name {
			t.Fatalf("Columns sheet row %d does not explain %q: %q", i+2, name, rows)
		}
	}
	if !strings.Contains(rows[1][1], "required") || !strings.Contains(strings.Join(rows[len(rows)-1], " "), "overrides") {
		t.Errorf("Columns sheet does not say email is required and file values override the form: %q", rows)
	}
	style, err := f.GetCellStyle("Invitations", "A1")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := f.GetStyle(style); err != nil || s.Font == nil || !s.Font.Bold {
		t.Errorf("header cell A1 is not bold (style %d, %v)", style, err)
	}
}
