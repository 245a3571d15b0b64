package bulk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Default limits; see Limits.
const (
	DefaultMaxBytes     = 20 << 20
	DefaultMaxRows      = 100_000
	DefaultMaxPartBytes = 4 << 20
)

// Limits bound what Open accepts. Zero fields take their defaults.
type Limits struct {
	// MaxBytes is the largest file accepted; default 20 MB.
	MaxBytes int64
	// MaxRows is the largest number of data rows (blank rows and the
	// header not counted); default 100,000. Blank rows have an allowance
	// of their own, as large: skipping them is not free (a sheet row can
	// carry 16,384 empty cells), so a file of nothing but blank rows must
	// not keep the reader busy.
	MaxRows int
	// MaxUnzippedBytes bounds an XLSX's parts once decompressed, all
	// together; default 10 × MaxBytes. Spreadsheet XML compresses about
	// tenfold, so an honest file stays well inside it and a zip bomb does not.
	MaxUnzippedBytes int64
	// MaxPartBytes is the size above which a worksheet or the shared
	// strings of an XLSX are spilled to a temporary file and read from
	// there instead of being held in memory (excelize's
	// UnzipXMLSizeLimit); default 4 MB. Held in memory, excelize's shared
	// strings cost some fifteen times their XML size (about 170 MB of heap
	// for a 100,000-row list of distinct names); spilled, reading takes
	// longer but the heap stays small. Every other part is held in memory,
	// so those together must stay under MaxBytes.
	MaxPartBytes int64
	// MaxMemoryAddresses is how many distinct addresses duplicate
	// detection keeps in memory (NewDuplicates); past that, the caller's
	// storage answers for the rest. Default DefaultMaxMemoryAddresses.
	MaxMemoryAddresses int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.MaxUnzippedBytes <= 0 {
		l.MaxUnzippedBytes = 10 * l.MaxBytes
	}
	if l.MaxPartBytes <= 0 {
		l.MaxPartBytes = DefaultMaxPartBytes
	}
	if l.MaxMemoryAddresses <= 0 {
		l.MaxMemoryAddresses = DefaultMaxMemoryAddresses
	}
	// excelize refuses a part threshold above the total.
	l.MaxPartBytes = min(l.MaxPartBytes, l.MaxUnzippedBytes)
	return l
}

// Record is one non-blank data row as read from the file, before any
// validation. Fields holds the trimmed text of each recognized column
// (indexed by Column; "" when the file has no such column or the cell is
// empty), and Present says which of them were non-empty.
type Record struct {
	// Line is the 1-based row number a spreadsheet shows for this row:
	// the header is 1, blank rows count. For CSV it is the line number,
	// except that a quoted value spanning several lines counts as one row.
	Line    int
	Fields  [NumColumns]string
	Present ColumnSet
}

// source is one file format's row iterator. cells may be reused by the
// next call.
type source interface {
	next() (line int, cells []string, err error)
	close() error
}

// Reader streams the records of an invitation file. Its memory does not
// grow with the number of rows. A Reader is not safe for concurrent use.
type Reader struct {
	lim    Limits
	src    source
	layout *layout
	max    int
	rows   int
	blanks int
	err    error // sticky: once the file failed, it stays failed
}

// Open inspects the file by its content and returns a Reader positioned
// after the header row. An XLSX (a zip holding [Content_Types].xml) is read
// from its first sheet; anything else that is UTF-8 text is read as CSV.
// The name only sharpens messages and refuses a file named like a
// workbook whose content is not one. Errors are *Error.
func Open(r io.ReaderAt, size int64, filename string, lim Limits) (*Reader, error) {
	lim = lim.withDefaults()
	if size > lim.MaxBytes {
		return nil, errorf(CodePayloadTooLarge, 0, "the file is larger than %s", formatBytes(lim.MaxBytes))
	}
	if size <= 0 {
		return nil, errorf(CodeValidationFailed, 0, "the file is empty")
	}
	head := make([]byte, 8)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bulk: read upload: %w", err)
	}
	isZip, err := sniff(head[:n], filename)
	if err != nil {
		return nil, err
	}
	var src source
	if isZip {
		src, err = openXLSX(r, size, lim)
	} else {
		src, err = openCSV(r, size)
	}
	if err != nil {
		return nil, err
	}
	rd := &Reader{lim: lim, src: src, max: lim.MaxRows}
	if err := rd.readHeader(); err != nil {
		_ = src.close()
		return nil, err
	}
	return rd, nil
}

// readHeader takes the first non-blank row as the header.
func (r *Reader) readHeader() error {
	for {
		line, cells, err := r.src.next()
		if errors.Is(err, io.EOF) {
			return errorf(CodeValidationFailed, 0, "the file is empty")
		}
		if err != nil {
			return err
		}
		if isBlank(cells) {
			if err := r.blank(); err != nil {
				return err
			}
			continue
		}
		r.layout, err = parseHeader(cells, line)
		return err
	}
}

func isBlank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// Limits returns the limits the file is read under, defaults filled in.
func (r *Reader) Limits() Limits { return r.lim }

// Header returns the recognized columns in file order.
func (r *Reader) Header() []Column { return slices.Clone(r.layout.header) }

// Warnings returns what Open noticed but did not refuse, such as
// `unknown column "Phone" ignored`.
func (r *Reader) Warnings() []string { return slices.Clone(r.layout.warnings) }

// Next returns the next non-blank row, or io.EOF after the last. An error
// other than io.EOF is an *Error (or an I/O error) and ends the reading:
// a file over MaxRows fails with payload_too_large before any row past the
// limit is returned.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	for {
		line, cells, err := r.src.next()
		if err != nil {
			r.err = err
			return Record{}, err
		}
		rec, blank := r.layout.record(line, cells)
		if blank {
			if err := r.blank(); err != nil {
				r.err = err
				return Record{}, err
			}
			continue
		}
		r.rows++
		if r.rows > r.max {
			r.err = errorf(CodePayloadTooLarge, 0, "the file has more than %s rows", formatCount(r.max))
			return Record{}, r.err
		}
		return rec, nil
	}
}

// blank counts a blank row against its allowance.
func (r *Reader) blank() error {
	r.blanks++
	if r.blanks > r.max {
		return errorf(CodePayloadTooLarge, 0, "the file has more than %s empty rows; delete them and upload it again", formatCount(r.max))
	}
	return nil
}

// Close releases the file's resources (for XLSX, temporary files). It is
// safe to call more than once.
func (r *Reader) Close() error {
	if r.src == nil {
		return nil
	}
	err := r.src.close()
	r.src = nil
	if r.err == nil {
		r.err = errors.New("bulk: reader closed")
	}
	return err
}

var (
	magicZip = []byte("PK")
	magicOLE = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	magicPDF = []byte("%PDF-")
)

// sniff decides between zip and text from the first bytes, and refuses
// early the formats people commonly upload by mistake with a message that
// says what to do instead.
func sniff(head []byte, filename string) (isZip bool, err error) {
	ext := strings.ToLower(filepath.Ext(filename))
	switch {
	case bytes.HasPrefix(head, magicZip):
		return true, nil
	case bytes.HasPrefix(head, magicOLE):
		return false, errorf(CodeUnsupportedFile, 0,
			"the file is an Excel 97-2003 (.xls) or password-protected workbook; save it as .xlsx without a password, or as CSV UTF-8")
	case bytes.HasPrefix(head, magicPDF):
		return false, errorf(CodeUnsupportedFile, 0, "the file is a PDF document, not a spreadsheet; upload a CSV or XLSX file")
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return false, errorf(CodeUnsupportedFile, 0, "the file is UTF-16 text; save it as CSV UTF-8")
	case ext == ".xlsx" || ext == ".xlsm" || ext == ".xltx" || ext == ".xls":
		return false, errorf(CodeUnsupportedFile, 0,
			"the file is named %s but is not an Excel workbook; save it again as .xlsx, or as CSV UTF-8", ext)
	}
	return false, nil
}

// formatBytes writes a limit the way people read it: "20 MB".
func formatBytes(n int64) string {
	const mb = 1 << 20
	switch {
	case n >= mb && n%mb == 0:
		return strconv.FormatInt(n/mb, 10) + " MB"
	case n >= mb:
		return strconv.FormatFloat(float64(n)/mb, 'f', 1, 64) + " MB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// formatCount groups thousands: 100000 → "100,000".
func formatCount(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
