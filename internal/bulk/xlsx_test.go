package bulk

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

func TestXLSX(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rows     [][]any
		lim      Limits
		header   []Column
		warnings []string
		want     []Record
	}{
		{
			name: "aliases, booleans, numbers, gaps",
			rows: [][]any{
				{"E-mail", "First Name", "Family name", "Locale", "Group", "Administrator", "Role", "Phone"},
				{"ana@example.com", "Ana", "Pereira", "nl-BE", "Sales; Support", true, "member", 3212345678},
				nil, nil,
				{" bo@example.com ", "Bo", nil, nil, nil, false, nil, nil},
				{"cy@example.com", nil, nil, nil, nil, 1, nil, nil},
			},
			header:   []Column{ColEmail, ColFirstName, ColLastName, ColLanguage, ColGroups, ColAdmin, ColRole},
			warnings: []string{`unknown column "Phone" ignored`},
			want: []Record{
				rec(2, ColEmail, "ana@example.com", ColFirstName, "Ana", ColLastName, "Pereira", ColLanguage, "nl-BE",
					ColGroups, "Sales; Support", ColAdmin, "TRUE", ColRole, "member"),
				rec(5, ColEmail, "bo@example.com", ColFirstName, "Bo", ColAdmin, "FALSE"),
				rec(6, ColEmail, "cy@example.com", ColAdmin, "1"),
			},
		},
		{
			name:   "header below blank rows; header only",
			rows:   [][]any{nil, nil, {"email"}},
			header: []Column{ColEmail},
		},
		{
			name:   "sheet spilled to a temporary file reads the same",
			rows:   [][]any{{"email", "first_name"}, {"ana@example.com", strings.Repeat("A", 90)}, {"bo@example.com", "Bo"}},
			lim:    Limits{MaxPartBytes: 100},
			header: []Column{ColEmail, ColFirstName},
			want: []Record{
				rec(2, ColEmail, "ana@example.com", ColFirstName, strings.Repeat("A", 90)),
				rec(3, ColEmail, "bo@example.com", ColFirstName, "Bo"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := xlsxFile(t, tt.rows, "Second")
			r, err := open(data, "list.xlsx", tt.lim)
			if err != nil {
				t.Fatalf("Open: %v", err)
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
				t.Fatalf("Next: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// zipEntry is one part of a hand-made archive. With raw set, data is
// written as already deflated, and size is what the header claims.
type zipEntry struct {
	name string
	data []byte
	raw  bool
	size uint64
	crc  uint32
}

func zipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		var w io.Writer
		var err error
		if e.raw {
			w, err = zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Deflate,
				CompressedSize64: uint64(len(e.data)), UncompressedSize64: e.size, CRC32: e.crc})
		} else {
			w, err = zw.Create(e.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// deflated compresses n bytes of XML-looking filler, and returns the
// compressed bytes and the CRC of the original.
func deflated(t testing.TB, n int) ([]byte, uint32) {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	crc := crc32.NewIEEE()
	chunk := bytes.Repeat([]byte("<row/>  "), 8<<10)
	for n > 0 {
		c := chunk[:min(n, len(chunk))]
		fw.Write(c)
		crc.Write(c)
		n -= len(c)
	}
	fw.Close()
	return buf.Bytes(), crc.Sum32()
}

func TestXLSXRefused(t *testing.T) {
	t.Parallel()
	types := zipEntry{name: "[Content_Types].xml", data: []byte(`<?xml version="1.0"?><Types/>`)}
	valid := xlsxFile(t, [][]any{{"email"}, {"ana@example.com"}})
	bomb, bombCRC := deflated(t, 20<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	damaged := bytes.Clone(valid)
	// Flip bytes inside the first part's compressed data, past its local header.
	for i := 60; i < 90; i++ {
		damaged[i] ^= 0xA5
	}
	tests := []struct {
		name string
		data []byte
		lim  Limits
		code string
		msg  string
	}{
		{
			name: "zip bomb: sheet inflating past the limit",
			data: zipBytes(t, types, zipEntry{name: "xl/worksheets/sheet1.xml", data: bomb, raw: true, size: 20 << 20, crc: bombCRC}),
			lim:  Limits{MaxUnzippedBytes: 8 << 20},
			code: CodeUnsupportedFile, msg: "unpacks to more than 8 MB",
		},
		{
			name: "zip bomb at default limits, refused before inflating",
			data: zipBytes(t, types, zipEntry{name: "xl/worksheets/sheet1.xml", data: bomb, raw: true, size: 1 << 40, crc: bombCRC}),
			code: CodeUnsupportedFile, msg: "unpacks to more than 200 MB",
		},
		{
			name: "zip bomb lying about its size",
			data: zipBytes(t, types, zipEntry{name: "xl/worksheets/sheet1.xml", data: bomb, raw: true, size: 1000, crc: bombCRC}),
			code: CodeUnsupportedFile, msg: "damaged",
		},
		{
			name: "large part held in memory",
			data: zipBytes(t, types, zipEntry{name: "xl/media/image1.bin", data: bomb, raw: true, size: 20 << 20, crc: bombCRC}),
			lim:  Limits{MaxBytes: 1 << 20, MaxUnzippedBytes: 100 << 20},
			code: CodeUnsupportedFile, msg: "besides its sheets",
		},
		{name: "damaged zip", data: damaged, code: CodeUnsupportedFile},
		{name: "truncated zip", data: valid[:len(valid)/2], code: CodeUnsupportedFile, msg: "damaged"},
		{name: "random bytes", data: random, code: CodeUnsupportedFile},
		{name: "random bytes after a zip signature", data: append([]byte("PK\x03\x04"), random...), code: CodeUnsupportedFile},
		{name: "PNG", data: append([]byte("\x89PNG\r\n\x1a\n"), random...), code: CodeUnsupportedFile},
		{name: "PDF", data: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), code: CodeUnsupportedFile, msg: "PDF"},
		{name: "old .xls", data: append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, random...), code: CodeUnsupportedFile, msg: ".xls"},
		{name: "plain zip", data: zipBytes(t, zipEntry{name: "list.csv", data: []byte("email\na@b.co\n")}), code: CodeUnsupportedFile, msg: "zip archive"},
		{name: "empty zip", data: zipBytes(t), code: CodeUnsupportedFile},
		{
			name: "OpenDocument",
			data: zipBytes(t, zipEntry{name: "mimetype", data: []byte("application/vnd.oasis.opendocument.spreadsheet")}, zipEntry{name: "content.xml"}),
			code: CodeUnsupportedFile, msg: "OpenDocument",
		},
		{
			name: "Word document named .xlsx",
			data: zipBytes(t, types, zipEntry{name: "_rels/.rels", data: []byte(`<Relationships/>`)}, zipEntry{name: "word/document.xml", data: []byte(`<w:document/>`)}),
			code: CodeUnsupportedFile, msg: "not a readable XLSX",
		},
		{name: "too large", data: valid, lim: Limits{MaxBytes: 1000}, code: CodePayloadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := open(tt.data, "list.xlsx", tt.lim)
			if err == nil {
				r.Close()
				t.Fatalf("Open succeeded, want %s", tt.code)
			}
			if got := errCode(err); got != tt.code {
				t.Fatalf("Open error %v (code %q), want code %q", err, got, tt.code)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Open error %q, want it to mention %q", err, tt.msg)
			}
		})
	}
}

func TestXLSXTooManyRows(t *testing.T) {
	t.Parallel()
	rows := [][]any{{"email"}}
	for range 6 {
		rows = append(rows, []any{"ana@example.com"}, nil) // blank rows do not count
	}
	r, err := open(xlsxFile(t, rows), "list.xlsx", Limits{MaxRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(r)
	if errCode(err) != CodePayloadTooLarge || len(recs) != 5 {
		t.Fatalf("read 6 rows with MaxRows 5: %d records, error %v; want 5 and %s", len(recs), err, CodePayloadTooLarge)
	}
}

// TestXLSXCloseRemovesTempFiles is not parallel: it points TMPDIR, where
// excelize spills large parts, at a directory of its own.
func TestXLSXCloseRemovesTempFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	rows := [][]any{{"email"}}
	for range 200 {
		rows = append(rows, []any{"ana@example.com"})
	}
	r, err := open(xlsxFile(t, rows), "list.xlsx", Limits{MaxPartBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(r); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) == 0 {
		t.Fatalf("no temporary file while reading; the test does not test anything")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("after Close, %d temporary files left in %s", len(left), dir)
	}
	if _, err := r.Next(); err == nil {
		t.Errorf("Next after Close succeeded")
	}
}

// TestXLSXWideBlankRows: excelize hands over a row with a cell in the
// last column as 16,384 cells, even when all are empty, so a small file of
// such rows costs real time; the blank-row allowance bounds it.
func TestXLSXWideBlankRows(t *testing.T) {
	t.Parallel()
	var sheet strings.Builder
	sheet.WriteString(`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	sheet.WriteString(`<row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c></row>`)
	for i := 2; i < 40; i++ {
		sheet.WriteString(`<row r="` + itoa(i) + `"><c r="XFD` + itoa(i) + `"><f>1</f></c></row>`)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	entries := partsOf(t, xlsxFile(t, [][]any{{"email"}}))
	for i, e := range entries {
		if e.name == "xl/worksheets/sheet1.xml" {
			entries[i].data = []byte(sheet.String())
		}
	}
	r, err := open(zipBytes(t, entries...), "list.xlsx", Limits{MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(r)
	if errCode(err) != CodePayloadTooLarge || len(recs) != 0 || !strings.Contains(err.Error(), "empty rows") {
		t.Fatalf("read 38 blank rows with MaxRows 10: %d records, error %v; want none and %s about empty rows", len(recs), err, CodePayloadTooLarge)
	}
}

// TestXLSXDisplayedText: cells come as the spreadsheet shows them (the
// number format applied), not as stored.
func TestXLSXDisplayedText(t *testing.T) {
	t.Parallel()
	f := excelize.NewFile()
	defer f.Close()
	_ = f.SetSheetRow("Sheet1", "A1", &[]any{"email", "first_name", "last_name", "admin"})
	_ = f.SetSheetRow("Sheet1", "A2", &[]any{"ana@example.com", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC), 1.5, true})
	twoDecimals, _ := f.NewStyle(&excelize.Style{NumFmt: 2})
	_ = f.SetCellStyle("Sheet1", "C2", "C2", twoDecimals)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	shown := func(cell string) string {
		v, err := f.GetCellValue("Sheet1", cell)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	r, err := open(buf.Bytes(), "list.xlsx", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{rec(2, ColEmail, "ana@example.com", ColFirstName, shown("B2"), ColLastName, "1.50", ColAdmin, "TRUE")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records mismatch (-want +got):\n%s", diff)
	}
	if got[0].Fields[ColFirstName] == "45356" {
		t.Errorf("date read as its serial number %q", got[0].Fields[ColFirstName])
	}
}

// TestXLSXFileNotHeldInMemory: a workbook on disk is read where it is.
// excelize, handed a reader, would first read the whole file into memory;
// here the file carries a second sheet of 16 MB that does not compress,
// which the import never reads, so reading the first sheet from the file
// must take a small fraction of that, while reading the same bytes from
// memory (the control) takes more than the file's size.
func TestXLSXFileNotHeldInMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory blurs heap figures")
	}
	const big = 16 << 20
	small := xlsxFile(t, [][]any{{"email"}, {"ana@example.com"}, {"bob@example.com"}}, "Big")
	zr, err := zip.NewReader(bytes.NewReader(small), int64(len(small)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	filler := make([]byte, big)
	rng := rand.NewChaCha8([32]byte{})
	rng.Read(filler)
	for i := range filler {
		filler[i] = 'a' + filler[i]%26 // letters: no end of the comment
	}
	for _, zf := range zr.File {
		if zf.Name == "xl/worksheets/sheet2.xml" {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: zf.Name, Method: zip.Store})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "<worksheet><!-- ")
			w.Write(filler)
			io.WriteString(w, " --></worksheet>")
			continue
		}
		if err := zw.Copy(zf); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	filler = nil
	path := filepath.Join(t.TempDir(), "list.xlsx")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	lim := Limits{MaxBytes: 4 * big}
	read := func(open func() (*Reader, error)) uint64 {
		return peakHeap(func() {
			r, err := open()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			recs, err := readAll(r)
			if err != nil || len(recs) != 2 {
				t.Fatalf("read %d records, %v; want 2", len(recs), err)
			}
		})
	}
	fromMemory := read(func() (*Reader, error) { return Open(bytes.NewReader(data), int64(len(data)), "list.xlsx", lim) })
	if fromMemory < big {
		t.Fatalf("reading the workbook from memory peaked at %d MB, under the file's %d MB: the test measures nothing", fromMemory>>20, big>>20)
	}
	fromFile := read(func() (*Reader, error) {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { fh.Close() })
		return Open(fh, int64(len(data)), "list.xlsx", lim)
	})
	if fromFile > big/4 {
		t.Errorf("reading the %d MB workbook from its file peaked at %.1f MB of heap, want under %d MB", len(data)>>20, float64(fromFile)/(1<<20), big/4>>20)
	}
	t.Logf("peak heap: %.1f MB from the file, %.1f MB from memory", float64(fromFile)/(1<<20), float64(fromMemory)/(1<<20))
}

// TestXLSXUnlinkedFile: a file whose name no longer leads to it is read
// through the handle.
func TestXLSXUnlinkedFile(t *testing.T) {
	data := xlsxFile(t, [][]any{{"email"}, {"ana@example.com"}})
	path := filepath.Join(t.TempDir(), "list.xlsx")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r, err := Open(fh, int64(len(data)), "list.xlsx", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(r)
	if err != nil || len(recs) != 1 || recs[0].Fields[ColEmail] != "ana@example.com" {
		t.Fatalf("read %+v, %v; want ana@example.com", recs, err)
	}
}
