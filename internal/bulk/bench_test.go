package bulk

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// Benchmarks and memory figures (results in README.md):
//
//	go test -run '^$' -bench . -benchtime 5x ./internal/bulk/
//	go test -run TestPeakMemory -v ./internal/bulk/

const benchRows = 100_000

var benchHeader = []string{"email", "first_name", "last_name", "language", "groups", "admin", "role"}

var benchLanguages = []string{"en", "nl-BE", "fr", "de-CH"}

// benchRow is row i of a generated file: every address distinct, values
// varied enough to exercise every check.
func benchRow(i int) []string {
	admin := "no"
	if i%50 == 0 {
		admin = "yes"
	}
	return []string{
		fmt.Sprintf("person.%d@example%d.com", i, i%97),
		fmt.Sprintf("First%d", i), fmt.Sprintf("Last%d", i),
		benchLanguages[i%len(benchLanguages)], "Sales; Support", admin, "member",
	}
}

func writeBenchCSV(w io.Writer, n int) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(benchHeader)
	for i := range n {
		_ = cw.Write(benchRow(i))
	}
	cw.Flush()
	return cw.Error()
}

// writeBenchXLSX writes the workbook by hand, the way Excel saves one:
// every text cell a reference into the shared strings part. (excelize's
// StreamWriter writes inline strings instead, which would spare the reader
// the shared strings, the costly part of reading a real file.)
func writeBenchXLSX(w io.Writer, n int) error {
	zw := zip.NewWriter(w)
	part := func(name, content string) {
		pw, _ := zw.Create(name)
		io.WriteString(pw, content)
	}
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	const rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
	const ct = "application/vnd.openxmlformats-officedocument.spreadsheetml."
	part("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
		`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>`+
		`<Default Extension="xml" ContentType="application/xml"/>`+
		`<Override PartName="/xl/workbook.xml" ContentType="`+ct+`sheet.main+xml"/>`+
		`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="`+ct+`worksheet+xml"/>`+
		`<Override PartName="/xl/sharedStrings.xml" ContentType="`+ct+`sharedStrings+xml"/></Types>`)
	part("_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
		`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	part("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
		`<workbook `+ns+`><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	part("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
		`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`+
		`<Relationship Id="rId1" Type="`+rel+`worksheet" Target="worksheets/sheet1.xml"/>`+
		`<Relationship Id="rId2" Type="`+rel+`sharedStrings" Target="sharedStrings.xml"/></Relationships>`)

	index := map[string]int{}
	var strs []string
	ref := func(s string) int {
		i, ok := index[s]
		if !ok {
			i = len(strs)
			index[s] = i
			strs = append(strs, s)
		}
		return i
	}
	sw, _ := zw.Create("xl/worksheets/sheet1.xml")
	bw := bufio.NewWriter(sw)
	bw.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet ` + ns + `><sheetData>`)
	row := func(r int, vals []string) {
		fmt.Fprintf(bw, `<row r="%d">`, r)
		for j, v := range vals {
			fmt.Fprintf(bw, `<c r="%c%d" t="s"><v>%d</v></c>`, 'A'+j, r, ref(v))
		}
		bw.WriteString(`</row>`)
	}
	row(1, benchHeader)
	for i := range n {
		row(i+2, benchRow(i))
	}
	bw.WriteString(`</sheetData></worksheet>`)
	bw.Flush()

	ssw, _ := zw.Create("xl/sharedStrings.xml")
	bw = bufio.NewWriter(ssw)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst %s count="%d" uniqueCount="%d">`, ns, (n+1)*len(benchHeader), len(strs))
	for _, s := range strs {
		bw.WriteString("<si><t>")
		xml.EscapeText(bw, []byte(s))
		bw.WriteString("</t></si>")
	}
	bw.WriteString(`</sst>`)
	bw.Flush()
	return zw.Close()
}

var (
	benchCSVOnce, benchXLSXOnce sync.Once
	benchCSV, benchXLSX         []byte
)

func benchFile(b *testing.B, xlsx bool) []byte {
	once, data, write := &benchCSVOnce, &benchCSV, writeBenchCSV
	if xlsx {
		once, data, write = &benchXLSXOnce, &benchXLSX, writeBenchXLSX
	}
	once.Do(func() {
		var buf bytes.Buffer
		if err := write(&buf, benchRows); err != nil {
			b.Fatal(err)
		}
		*data = buf.Bytes()
	})
	return *data
}

// benchRead reads (and with check, checks) the whole file once per
// iteration and reports rows per second.
func benchRead(b *testing.B, data []byte, name string, check bool) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows, cpu0 := 0, cpuTime()
	for b.Loop() {
		r, err := open(data, name, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		c := newBenchCheck()
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if check {
				c.add(b, rec)
			}
			rows++
		}
		if check {
			c.flush(b)
		}
		r.Close()
	}
	reportRates(b, rows, cpu0)
}

// benchCheck checks rows as an import does: each with Check, then in
// chunks of 500 through Duplicates. The caller's storage, asked about
// addresses past memory, knows none: the generated files repeat none.
type benchCheck struct {
	c     *Checker
	d     *Duplicates
	chunk []Row
}

func newBenchCheck() *benchCheck {
	return &benchCheck{c: NewChecker(Defaults{}, []string{"member"}, []string{"Sales", "Support"}),
		d: NewDuplicates(0), chunk: make([]Row, 0, 500)}
}

func (bc *benchCheck) add(tb testing.TB, rec Record) {
	if bc.chunk = append(bc.chunk, bc.c.Check(rec)); len(bc.chunk) == cap(bc.chunk) {
		bc.flush(tb)
	}
}

func (bc *benchCheck) flush(tb testing.TB) {
	none := func([]string) (map[string]int, error) { return nil, nil }
	if err := bc.d.Mark(bc.chunk, none); err != nil {
		tb.Fatal(err)
	}
	for _, row := range bc.chunk {
		if row.Outcome != OutcomeOK {
			tb.Fatalf("Check(line %d) = %s %s", row.Line, row.Outcome, row.Detail)
		}
	}
	bc.chunk = bc.chunk[:0]
}

// reportRates reports rows per second of wall time and CPU time per
// operation (see cpuTime).
func reportRates(b *testing.B, rows int, cpu0 time.Duration) {
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkReadCSV(b *testing.B)      { benchRead(b, benchFile(b, false), "b.csv", false) }
func BenchmarkReadCheckCSV(b *testing.B) { benchRead(b, benchFile(b, false), "b.csv", true) }
func BenchmarkReadXLSX(b *testing.B)     { benchRead(b, benchFile(b, true), "b.xlsx", false) }
func BenchmarkReadCheckXLSX(b *testing.B) {
	benchRead(b, benchFile(b, true), "b.xlsx", true)
}

// BenchmarkBareCSV is the baseline: encoding/csv alone, configured as the
// reader configures it.
func BenchmarkBareCSV(b *testing.B) {
	data := benchFile(b, false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows, cpu0 := 0, cpuTime()
	for b.Loop() {
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord, cr.ReuseRecord = -1, true
		for {
			_, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
		rows-- // the header
	}
	reportRates(b, rows, cpu0)
}

// BenchmarkBareXLSX is the baseline: excelize's streaming Rows alone,
// with its default options ("default", shared strings held in memory) and
// with the part threshold Open uses ("spill", shared strings read from a
// temporary file), which is the like-for-like comparison.
func BenchmarkBareXLSX(b *testing.B) {
	data := benchFile(b, true)
	for _, tt := range []struct {
		name string
		opts excelize.Options
	}{
		{"default", excelize.Options{}},
		{"spill", Limits{}.excelizeOptions()},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			rows, cpu0 := 0, cpuTime()
			for b.Loop() {
				f, err := excelize.OpenReader(bytes.NewReader(data), tt.opts)
				if err != nil {
					b.Fatal(err)
				}
				rs, err := f.Rows(f.GetSheetList()[0])
				if err != nil {
					b.Fatal(err)
				}
				for rs.Next() {
					if _, err := rs.Columns(); err != nil {
						b.Fatal(err)
					}
					rows++
				}
				rows--
				rs.Close()
				f.Close()
			}
			reportRates(b, rows, cpu0)
		})
	}
}

// peakHeap runs f while sampling the heap in use every millisecond, and
// returns the highest sample above the heap in use before f started.
func peakHeap(f func()) (peak uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var max atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max.Load() {
				max.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > max.Load() {
		max.Store(ms.HeapInuse)
	}
	if max.Load() < base {
		return 0
	}
	return max.Load() - base
}

// readFileChecked reads and checks a generated file from disk, as an
// import preview does, and returns the number of rows.
func readFileChecked(tb testing.TB, path string, lim Limits) int {
	fh, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	r, err := Open(fh, st.Size(), filepath.Base(path), lim)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	c := newBenchCheck()
	n := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			c.flush(tb)
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		c.add(tb, rec)
		n++
	}
}

func writeFile(tb testing.TB, path string, write func(io.Writer, int) error, n int) {
	fh, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(fh)
	if err := write(w, n); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		tb.Fatal(err)
	}
}

// TestPeakMemory reads and checks 100,000 and 1,000,000 CSV rows from
// disk and measures the heap on top of what was in use before: under
// 150 MB, and not growing with the rows (duplicate detection keeps a
// bounded number of addresses; the generated file repeats none, so the
// caller's storage past that is never asked to remember anything). It is
// not parallel, so that other tests' allocations do not count; the
// 1,000,000 row case is skipped with -short and under the race detector.
func TestPeakMemory(t *testing.T) {
	const limit = 150 << 20
	// The growth allowed from 100,000 to 1,000,000 rows: the garbage
	// collector's slack, far below the 58 MB that remembering 900,000
	// more addresses would take.
	const growth = 16 << 20
	var first uint64
	for _, n := range []int{100_000, 1_000_000} {
		if n > benchRows && (testing.Short() || raceEnabled) {
			t.Logf("%d rows: skipped (-short or -race)", n)
			continue
		}
		path := filepath.Join(t.TempDir(), "list.csv")
		writeFile(t, path, writeBenchCSV, n)
		var got int
		start := time.Now()
		peak := peakHeap(func() {
			got = readFileChecked(t, path, Limits{MaxBytes: 1 << 30, MaxRows: n})
		})
		if got != n {
			t.Fatalf("read %d rows, want %d", got, n)
		}
		t.Logf("%d CSV rows read and checked in %v: peak heap %.1f MB", n, time.Since(start).Round(time.Millisecond), float64(peak)/(1<<20))
		if peak > limit {
			t.Errorf("%d rows: peak heap %d MB, want under %d MB", n, peak>>20, limit>>20)
		}
		if first == 0 {
			first = peak
		} else if peak > first+growth {
			t.Errorf("%d rows: peak heap %.1f MB, want at most %d MB more than at 100,000 rows (%.1f MB)",
				n, float64(peak)/(1<<20), growth>>20, float64(first)/(1<<20))
		}
	}
}

// BenchmarkPeakMemoryXLSX reports the peak heap for reading a
// 100,000-row XLSX from disk (too slow to generate in every test run):
// "bulk" reads and checks it through Open; "bare" is excelize's Rows with
// its default options, which keep the shared strings in memory.
func BenchmarkPeakMemoryXLSX(b *testing.B) {
	path := filepath.Join(b.TempDir(), "list.xlsx")
	writeFile(b, path, writeBenchXLSX, benchRows)
	for _, tt := range []struct {
		name string
		read func()
	}{
		{"bulk", func() { readFileChecked(b, path, Limits{}) }},
		{"bare", func() {
			f, err := excelize.OpenFile(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			rs, err := f.Rows("Sheet1")
			if err != nil {
				b.Fatal(err)
			}
			defer rs.Close()
			for rs.Next() {
				if _, err := rs.Columns(); err != nil {
					b.Fatal(err)
				}
			}
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(tt.read))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
		})
	}
}
