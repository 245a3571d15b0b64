package bulk

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// open opens data as an upload named name.
func open(data []byte, name string, lim Limits) (*Reader, error) {
	return Open(bytes.NewReader(data), int64(len(data)), name, lim)
}

// readAll returns every record, or the first error other than io.EOF.
func readAll(r *Reader) ([]Record, error) {
	var recs []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}

// errCode returns the code of a *Error, "" for nil, and "other" for
// anything else.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "other: " + err.Error()
}

// rec builds the Record a test expects: pairs of column and value.
func rec(line int, kv ...any) Record {
	r := Record{Line: line}
	for i := 0; i < len(kv); i += 2 {
		c, v := kv[i].(Column), kv[i+1].(string)
		r.Fields[c] = v
		if v != "" {
			r.Present.add(c)
		}
	}
	return r
}

// xlsxFile builds a workbook whose first sheet holds rows (nil cells
// stay empty), plus extra sheets if given.
func xlsxFile(t testing.TB, rows [][]any, extraSheets ...string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if row == nil {
			continue
		}
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range extraSheets {
		if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellValue(name, "A1", "not read"); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hashOf is the emailSet hash of a full address.
func hashOf(s *emailSet, email string) uint64 {
	at := strings.LastIndexByte(email, '@')
	return s.hash(email[:at], email[at+1:])
}

func itoa(i int) string { return strconv.Itoa(i) }
