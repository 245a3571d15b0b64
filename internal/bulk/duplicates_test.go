package bulk

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// spillStore is what a caller of Duplicates keeps: the rows Mark marked
// Spill, found again by address. It counts the addresses it was asked
// about, to show that memory answers first.
type spillStore struct {
	rows  map[string]int
	asked int
}

func (s *spillStore) lookup(emails []string) (map[string]int, error) {
	s.asked += len(emails)
	out := map[string]int{}
	for _, e := range emails {
		if l, ok := s.rows[e]; ok {
			out[e] = l
		}
	}
	return out, nil
}

// keep stores the rows of one Mark call that were marked Spill, failing
// on a second row for one address (the caller's index is unique).
func (s *spillStore) keep(t *testing.T, rows []Row) {
	t.Helper()
	for _, r := range rows {
		if !r.Spill {
			continue
		}
		if r.Outcome == OutcomeDuplicate || r.Outcome == OutcomeInvalidEmail {
			t.Fatalf("row %d (%s) marked Spill", r.Line, r.Outcome)
		}
		if l, ok := s.rows[r.Email]; ok {
			t.Fatalf("row %d marked Spill, but row %d has %s", r.Line, l, r.Email)
		}
		s.rows[r.Email] = r.Line
	}
}

// checked runs emails (one row each, lines from 2) through a Checker.
func checked(emails ...string) []Row {
	c := NewChecker(Defaults{}, []string{"member"}, nil)
	rows := make([]Row, len(emails))
	for i, e := range emails {
		rows[i] = c.Check(rec(i+2, ColEmail, e))
	}
	return rows
}

func outcomes(rows []Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = string(r.Outcome)
		if r.Detail != "" {
			out[i] += ": " + r.Detail
		}
	}
	return out
}

// TestDuplicatesSpill runs the same file through memories of every size,
// one row at a time and in chunks: the outcomes never change, whether an
// address is found in memory, in the caller's rows or in the same chunk.
func TestDuplicatesSpill(t *testing.T) {
	t.Parallel()
	emails := []string{
		"ana@example.com",   // 2
		"bo@example.com",    // 3
		"ANA@Example.COM",   // 4: duplicate of 2, once normalized
		"not an address",    // 5: invalid, never counts
		"cy@example.com",    // 6
		"cy@example.com",    // 7: duplicate of 6
		"dee@example.com",   // 8
		"bo@EXAMPLE.com",    // 9: duplicate of 3
		"eve@example.com",   // 10
		"dee@example.com",   // 11: duplicate of 8
		"eve@example.com",   // 12: duplicate of 10
		"not an address",    // 13
		"fay@example.com",   // 14
		" Ana@example.com ", // 15: duplicate of 2
	}
	want := []string{"ok", "ok", "duplicate: duplicate of row 2", "invalid_email: contains a space", "ok",
		"duplicate: duplicate of row 6", "ok", "duplicate: duplicate of row 3", "ok", "duplicate: duplicate of row 8",
		"duplicate: duplicate of row 10", "invalid_email: contains a space", "ok", "duplicate: duplicate of row 2"}
	for _, max := range []int{1, 2, 3, 5, 100} {
		for _, chunk := range []int{1, 2, 3, 4, len(emails)} {
			t.Run(fmt.Sprintf("max=%d,chunk=%d", max, chunk), func(t *testing.T) {
				d := NewDuplicates(max)
				st := &spillStore{rows: map[string]int{}}
				rows := checked(emails...)
				for lo := 0; lo < len(rows); lo += chunk {
					part := rows[lo:min(len(rows), lo+chunk)]
					if err := d.Mark(part, st.lookup); err != nil {
						t.Fatalf("Mark: %v", err)
					}
					st.keep(t, part)
				}
				if got := outcomes(rows); !slices.Equal(got, want) {
					t.Errorf("outcomes =\n%q\nwant\n%q", got, want)
				}
				distinct := 6
				if n := d.mem.n + len(st.rows); n != distinct {
					t.Errorf("%d addresses in memory + %d kept by the caller, want %d in all", d.mem.n, len(st.rows), distinct)
				}
				if d.mem.n > max {
					t.Errorf("%d addresses in memory, want at most %d", d.mem.n, max)
				}
				if max >= distinct && st.asked != 0 {
					t.Errorf("asked the caller about %d addresses with room in memory for all", st.asked)
				}
			})
		}
	}
}

func TestDuplicatesLookupErrors(t *testing.T) {
	t.Parallel()
	d := NewDuplicates(1)
	rows := checked("ana@example.com", "bo@example.com")
	boom := errors.New("boom")
	if err := d.Mark(rows, func([]string) (map[string]int, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("Mark with a failing lookup = %v, want %v", err, boom)
	}

	d = NewDuplicates(1)
	if err := d.Mark(checked("ana@example.com", "bo@example.com"), nil); err != nil {
		t.Fatalf("Mark without a lookup, nothing spilled before = %v", err)
	}
	if err := d.Mark(checked("cy@example.com"), nil); err == nil {
		t.Error("Mark without a lookup after a row was spilled succeeded, want an error")
	}
}

// TestDuplicatesLarge runs 300,000 rows (a third of them repeats, some
// far apart, some in the same chunk) through a memory of 10,000 addresses,
// in chunks of 500 as an import does, and checks every outcome against a
// plain map.
func TestDuplicatesLarge(t *testing.T) {
	t.Parallel()
	const n, max, chunk = 300_000, 10_000, 500
	emails := make([]string, n)
	for i := range emails {
		switch {
		case i%3 == 2: // a repeat of a row long before
			emails[i] = fmt.Sprintf("Person.%d@Example%d.com", i/7, i/7%13)
		case i%11 == 5 && i > 0: // a repeat of the row before
			emails[i] = emails[i-1]
		default:
			emails[i] = fmt.Sprintf("person.%d@example%d.com", i, i%13)
		}
	}
	c := NewChecker(Defaults{}, []string{"member"}, nil)
	d := NewDuplicates(max)
	st := &spillStore{rows: map[string]int{}}
	first := map[string]int{}
	rows := make([]Row, 0, chunk)
	dups := 0
	for lo := 0; lo < n; lo += chunk {
		rows = rows[:0]
		for i := lo; i < min(n, lo+chunk); i++ {
			rows = append(rows, c.Check(rec(i+2, ColEmail, emails[i])))
		}
		if err := d.Mark(rows, st.lookup); err != nil {
			t.Fatal(err)
		}
		st.keep(t, rows)
		for _, r := range rows {
			want := OutcomeOK
			if l, ok := first[r.Email]; ok {
				want = OutcomeDuplicate
				if r.Detail != fmt.Sprintf("duplicate of row %d", l) {
					t.Fatalf("row %d (%s): %q, want duplicate of row %d", r.Line, r.Email, r.Detail, l)
				}
				dups++
			} else {
				first[r.Email] = r.Line
			}
			if r.Outcome != want {
				t.Fatalf("row %d (%s) = %s %s, want %s", r.Line, r.Email, r.Outcome, r.Detail, want)
			}
		}
	}
	if d.mem.n != max {
		t.Errorf("%d addresses in memory, want %d", d.mem.n, max)
	}
	if len(st.rows)+d.mem.n != len(first) {
		t.Errorf("memory %d + caller %d addresses, want %d", d.mem.n, len(st.rows), len(first))
	}
	if dups < n/4 {
		t.Errorf("only %d duplicates; the file is meant to have about a third", dups)
	}
}
