package bulk

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// fuzzLimits keep fuzzing quick and make the row limit easy to reach.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxRows: 20, MaxUnzippedBytes: 8 << 20, MaxPartBytes: 4 << 10}

// readChecked reads a whole file as the import does and checks the
// reader's promises: errors are *Error (or io.EOF), rows come in
// increasing order, never past the row limit, and Check accepts them; and
// Duplicates, with room in memory for only two addresses, marks exactly
// the rows whose address came before.
func readChecked(t *testing.T, data []byte, name string) {
	r, err := open(data, name, fuzzLimits)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Open error %v is not a *bulk.Error", err)
		}
		return
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	c := NewChecker(Defaults{Language: "en"}, []string{"member"}, []string{"Sales"})
	last, n := 0, 0
	var rows []Row
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			checkDuplicates(t, rows)
			return
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Next error %v is not a *bulk.Error", err)
			}
			return
		}
		n++
		if n > fuzzLimits.MaxRows {
			t.Fatalf("record %d returned past MaxRows %d", n, fuzzLimits.MaxRows)
		}
		if rec.Line <= last {
			t.Fatalf("record line %d after line %d", rec.Line, last)
		}
		last = rec.Line
		row := c.Check(rec)
		if row.Outcome == "" || row.Line != rec.Line {
			t.Fatalf("Check(line %d) = %+v", rec.Line, row)
		}
		rows = append(rows, row)
	}
}

func checkDuplicates(t *testing.T, rows []Row) {
	want := make([]Row, len(rows))
	copy(want, rows)
	first := map[string]int{}
	for i, r := range want {
		if r.Outcome == OutcomeInvalidEmail {
			continue
		}
		if l, ok := first[r.Email]; ok {
			markDuplicate(&want[i], l)
		} else {
			first[r.Email] = r.Line
		}
	}
	d := NewDuplicates(2)
	st := &spillStore{rows: map[string]int{}}
	for lo := 0; lo < len(rows); lo += 3 {
		part := rows[lo:min(len(rows), lo+3)]
		if err := d.Mark(part, st.lookup); err != nil {
			t.Fatal(err)
		}
		st.keep(t, part)
	}
	for i := range rows {
		if rows[i].Outcome != want[i].Outcome || rows[i].Detail != want[i].Detail {
			t.Fatalf("Mark(line %d) = %s %q, want %s %q", rows[i].Line, rows[i].Outcome, rows[i].Detail, want[i].Outcome, want[i].Detail)
		}
	}
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"email,first_name,last_name,language,groups,admin,role\nana@example.com,Ana,Pereira,nl-BE,Sales,yes,member\n",
		"\uFEFFE-mail;Voornaam;lang\r\nana@example.com;Ana;nl\r\n\r\nbo@example.com;\"B;o\";fr\r\n",
		"email,first_name\n\"ana@example.com\",\"multi\nline\"\n",
		"email\n" + strings.Repeat("a@b.co\n", 25),
		"email,email\n",
		"name\nAna\n",
		"email\n\"unclosed\n",
		"email\nana\"@example.com\n",
		"email,first_name\nana@example.com,Jos\xe9\n",
		"",
		"\n\n,\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		readChecked(t, data, "list.csv")
	})
}

func FuzzXLSX(f *testing.F) {
	f.Add(xlsxFile(f, [][]any{
		{"Email", "First name", "Admin", "Groups"},
		{"ana@example.com", "Ana", true, "Sales"},
		nil,
		{"bo@example.com", "Bo", 0, "Sales; Foo"},
	}))
	f.Add(xlsxFile(f, [][]any{{"name"}, {"Ana"}}))
	f.Add(zipBytes(f, zipEntry{name: "[Content_Types].xml", data: []byte("<Types/>")}))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		readChecked(t, data, "list.xlsx")
	})
}

// FuzzXLSXSheet fuzzes the worksheet and shared strings XML inside an
// otherwise valid package: mutating a whole zip mostly breaks its
// checksums, so FuzzXLSX alone rarely reaches excelize's XML parsing.
func FuzzXLSXSheet(f *testing.F) {
	base := partsOf(f, xlsxFile(f, [][]any{{"email", "first_name"}, {"ana@example.com", "Ana"}}))
	const sheetPart, sstPart = "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"
	var sheet, sst []byte
	for _, e := range base {
		switch e.name {
		case sheetPart:
			sheet = e.data
		case sstPart:
			sst = e.data
		}
	}
	f.Add(sheet, sst)
	f.Add([]byte(`<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c></row>`+
		`<row r="3"><c r="A3" t="s"><v>7</v></c><c r="XFD3" t="b"><v>1</v></c></row>`+
		`<row r="2"><c r="B2" s="99"><v>45000.5</v></c></row></sheetData></worksheet>`), sst)
	f.Add([]byte(`<worksheet><sheetData><row r="1048577"/></sheetData></worksheet>`), []byte(`<sst><si><r><t>x</t></r></si></sst>`))
	f.Fuzz(func(t *testing.T, sheet, sst []byte) {
		entries := slices.Clone(base)
		for i, e := range entries {
			switch e.name {
			case sheetPart:
				entries[i].data = sheet
			case sstPart:
				entries[i].data = sst
			}
		}
		readChecked(t, zipBytes(t, entries...), "list.xlsx")
	})
}

// partsOf returns the parts of a package, in order.
func partsOf(t testing.TB, file []byte) []zipEntry {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	var entries []zipEntry
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, zipEntry{name: zf.Name, data: data})
	}
	return entries
}
