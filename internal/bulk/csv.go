package bulk

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// openCSV checks that the whole file is UTF-8 text, then sets up an
// encoding/csv reader with the delimiter its header line uses.
func openCSV(r io.ReaderAt, size int64) (*csvSource, error) {
	if err := checkText(io.NewSectionReader(r, 0, size)); err != nil {
		return nil, err
	}
	var off int64
	head := make([]byte, 64<<10)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bulk: read upload: %w", err)
	}
	head = head[:n]
	if bytes.HasPrefix(head, bom) {
		off, head = int64(len(bom)), head[len(bom):]
	}
	cr := csv.NewReader(io.NewSectionReader(r, off, size-off))
	cr.Comma = delimiter(head)
	cr.FieldsPerRecord = -1 // short rows are fine: missing cells are empty
	cr.ReuseRecord = true   // one allocation per row instead of two
	return &csvSource{r: cr}, nil
}

// checkText reads the file once, before parsing, so that a Latin-1 or
// binary file is refused as a whole at Open rather than half-way through a
// preview. The pass costs a few milliseconds for the largest file accepted.
func checkText(r io.Reader) error {
	buf := make([]byte, 64<<10)
	line := 1
	keep := 0 // bytes of an incomplete rune carried over to the next read
	for {
		n, err := io.ReadFull(r, buf[keep:])
		chunk := buf[:keep+n]
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return fmt.Errorf("bulk: read upload: %w", err)
		}
		whole := chunk
		if !eof {
			whole = chunk[:completeRunes(chunk)]
		}
		if bytes.IndexByte(whole, 0) >= 0 {
			return errorf(CodeUnsupportedFile, 0, "the file is not a spreadsheet (it contains binary data); upload a CSV or XLSX file")
		}
		if !utf8.Valid(whole) {
			i := firstInvalid(whole)
			return errorf(CodeUnsupportedFile, line+bytes.Count(whole[:i], []byte{'\n'}),
				"the file is not UTF-8 text; save it as CSV UTF-8")
		}
		if eof {
			return nil
		}
		line += bytes.Count(whole, []byte{'\n'})
		keep = copy(buf, chunk[len(whole):])
	}
}

// completeRunes returns the length of b without a rune cut off at its end.
func completeRunes(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// delimiter picks ';' when the header line has more semicolons than commas
// outside quotes: spreadsheets in locales with a decimal comma save CSV
// with semicolons.
func delimiter(head []byte) rune {
	var commas, semis int
	quoted := false
scan:
	for _, b := range head {
		switch {
		case b == '"':
			quoted = !quoted
		case quoted:
		case b == '\n':
			break scan
		case b == ',':
			commas++
		case b == ';':
			semis++
		}
	}
	if semis > commas {
		return ';'
	}
	return ','
}

type csvSource struct {
	r       *csv.Reader
	row     int // spreadsheet row number of the last record
	endLine int // file line the last record ended on
}

func (s *csvSource) next() (int, []string, error) {
	cells, err := s.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return 0, nil, csvProblem(pe)
		}
		if errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		return 0, nil, fmt.Errorf("bulk: read csv: %w", err)
	}
	// A spreadsheet shows a record as one row however many lines its
	// quoted values span, and a blank line (which encoding/csv skips) as an
	// empty row; count rows the same way so that Line matches what the
	// person sees when they open the file.
	start, _ := s.r.FieldPos(0)
	last := len(cells) - 1
	end, _ := s.r.FieldPos(last)
	end += strings.Count(cells[last], "\n")
	s.row += start - s.endLine
	s.endLine = end
	return s.row, cells, nil
}

func (s *csvSource) close() error { return nil }

// csvProblem says in plain words what encoding/csv found. pe.Column is a
// byte position in the line, not a spreadsheet column, hence "character".
func csvProblem(pe *csv.ParseError) *Error {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return errorf(CodeValidationFailed, pe.Line,
			"character %d: a value contains a quote (\") but does not start with one; put the whole value in quotes and double the quotes inside it", pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		// An unclosed quote is only noticed at the end of the file; the
		// line where the row starts is the one to look at.
		return errorf(CodeValidationFailed, pe.StartLine,
			"a quoted value in this row is not closed, or has text after its closing quote (found on line %d, character %d)", pe.Line, pe.Column)
	}
	return errorf(CodeValidationFailed, pe.Line, "character %d: %v", pe.Column, pe.Err)
}
