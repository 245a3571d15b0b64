package bulk

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xuri/excelize/v2"
)

// openXLSX checks the archive itself (checkZip), then opens it with
// excelize under the same limits and streams the first sheet.
func openXLSX(r io.ReaderAt, size int64, lim Limits) (src *xlsxSource, err error) {
	if err := checkZip(r, size, lim); err != nil {
		return nil, err
	}
	var f *excelize.File
	// excelize is a large parser fed with untrusted input; a panic in it
	// must refuse the file, not take the server down.
	defer func() {
		if p := recover(); p != nil {
			if f != nil {
				_ = f.Close()
			}
			src, err = nil, errorf(CodeUnsupportedFile, 0, "the file is not a readable XLSX workbook")
		}
	}()
	f, err = openWorkbook(r, size, lim.excelizeOptions())
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, causef(err, CodeUnsupportedFile, 0, "the file is not a readable XLSX workbook")
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, errorf(CodeUnsupportedFile, 0, "the file is not an XLSX workbook: it has no worksheet")
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		_ = f.Close()
		return nil, causef(err, CodeUnsupportedFile, 0, "the first sheet of the workbook cannot be read")
	}
	return &xlsxSource{f: f, rows: rows}, nil
}

// openWorkbook opens r with excelize. Handed a reader, excelize reads the
// whole file into memory (about twice its size while it reads) before a
// row streams, so that memory would grow with the file; a file it opens
// by name, it reads where it is. So a file on disk (an upload is spooled
// to one, the command line names one) is opened by its name, when the
// name still leads to the same file of the same size.
func openWorkbook(r io.ReaderAt, size int64, opts excelize.Options) (*excelize.File, error) {
	if file, ok := r.(*os.File); ok {
		mine, err1 := file.Stat()
		named, err2 := os.Stat(file.Name())
		if err1 == nil && err2 == nil && os.SameFile(mine, named) && named.Size() == size {
			return excelize.OpenFile(file.Name(), opts)
		}
	}
	return excelize.OpenReader(io.NewSectionReader(r, 0, size), opts)
}

// excelizeOptions are the options Open gives excelize under these limits
// (zero fields taking their defaults); the benchmarks read with them too.
func (l Limits) excelizeOptions() excelize.Options {
	l = l.withDefaults()
	return excelize.Options{UnzipSizeLimit: l.MaxUnzippedBytes, UnzipXMLSizeLimit: l.MaxPartBytes}
}

// checkZip looks at the archive before excelize does, for three reasons.
// It refuses a zip that is not a workbook with a clear message. It sums the
// declared sizes of every part up front, so a zip bomb is refused before
// anything is inflated (archive/zip fails a part that inflates past its
// declared size, so the declared sizes can be trusted as bounds). And it
// inflates every part once, discarding the output, because excelize
// ignores read errors on parts and would go on with truncated data from a
// damaged file.
func checkZip(r io.ReaderAt, size int64, lim Limits) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return causef(err, CodeUnsupportedFile, 0, "the file is damaged or is not an XLSX workbook")
	}
	var total, inMemory uint64
	var types, ods bool
	limit := uint64(lim.MaxUnzippedBytes)
	part := uint64(lim.MaxPartBytes)
	for _, zf := range zr.File {
		name := strings.ToLower(strings.ReplaceAll(zf.Name, `\`, "/"))
		switch name {
		case "[content_types].xml":
			types = true
		case "mimetype", "content.xml":
			ods = true
		}
		n := zf.UncompressedSize64
		if n > limit || total > limit-n {
			return errorf(CodeUnsupportedFile, 0,
				"the file unpacks to more than %s; it is not an invitation list", formatBytes(lim.MaxUnzippedBytes))
		}
		total += n
		// excelize spills large worksheets and shared strings to a
		// temporary file and streams them; every other part stays in memory.
		spilled := n > part && (strings.HasPrefix(name, "xl/worksheets/sheet") || name == "xl/sharedstrings.xml")
		if !spilled {
			inMemory += n
		}
	}
	switch {
	case !types && ods:
		return errorf(CodeUnsupportedFile, 0, "the file is an OpenDocument spreadsheet; save it as .xlsx or as CSV UTF-8")
	case !types:
		return errorf(CodeUnsupportedFile, 0, "the file is a zip archive, not an XLSX workbook")
	case inMemory > uint64(lim.MaxBytes):
		return errorf(CodeUnsupportedFile, 0,
			"the workbook holds more than %s besides its sheets (pictures or other content); keep only the list and save it again", formatBytes(lim.MaxBytes))
	}
	for _, zf := range zr.File {
		if err := inflate(zf); err != nil {
			return causef(err, CodeUnsupportedFile, 0, "the file is damaged (%s cannot be unpacked)", zf.Name)
		}
	}
	return nil
}

func inflate(zf *zip.File) error {
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return err
}

type xlsxSource struct {
	f    *excelize.File
	rows *excelize.Rows
	line int
}

func (s *xlsxSource) next() (line int, cells []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			line, cells = 0, nil
			err = errorf(CodeUnsupportedFile, s.line, "this row of the workbook cannot be read")
		}
	}()
	if !s.rows.Next() {
		if err := s.rows.Error(); err != nil {
			return 0, nil, causef(err, CodeUnsupportedFile, s.line+1, "the workbook cannot be read past this row")
		}
		return 0, nil, io.EOF
	}
	// Rows.Next steps one row number at a time, also over rows the sheet
	// leaves out, so counting calls gives the row number Excel shows.
	s.line++
	cells, err = s.rows.Columns()
	if err != nil {
		return 0, nil, causef(err, CodeUnsupportedFile, s.line, "this row of the workbook cannot be read")
	}
	return s.line, cells, nil
}

func (s *xlsxSource) close() error {
	// Rows.Close only closes a read-only temporary file (and repeats any
	// reading error, already reported by next); File.Close removes the
	// temporary files, which is the part that matters.
	_ = s.rows.Close()
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("bulk: close workbook: %w", err)
	}
	return nil
}
