package bulk

import (
	"errors"
	"fmt"
)

// DefaultMaxMemoryAddresses is how many distinct addresses Duplicates keeps
// in memory unless told otherwise (Limits.MaxMemoryAddresses): as many as
// the default row limit, so that a file within it never needs the
// caller's storage. About 6 MB at that size.
const DefaultMaxMemoryAddresses = DefaultMaxRows

// Duplicates finds the rows of one file whose address an earlier row
// already has, and names that first row ("duplicate of row 4").
//
// Memory does not grow with the file: the first max distinct addresses
// are kept in memory (emailSet, about 35 bytes each); a new address past
// that is marked Spill on its row, and the caller keeps such rows where
// its lookup finds them again (an import keeps every row in the database
// anyway). Either way the answer is exact: addresses are compared byte for
// byte, never by hash alone.
//
// Use one Duplicates per file, from one goroutine.
type Duplicates struct {
	mem *emailSet
	max int
	// spilled is set once a row was marked Spill: from then on only the
	// lookup knows every address.
	spilled bool
}

// FirstRows looks addresses up among the rows that earlier Mark calls
// marked Spill: for each address it finds, the line of that row. It is
// asked only about addresses memory does not hold.
type FirstRows func(emails []string) (map[string]int, error)

// NewDuplicates returns a Duplicates that keeps up to max addresses in
// memory (DefaultMaxMemoryAddresses when max ≤ 0).
func NewDuplicates(max int) *Duplicates {
	if max <= 0 {
		max = DefaultMaxMemoryAddresses
	}
	return &Duplicates{mem: newEmailSet(), max: max}
}

// Mark marks the duplicates among rows, which must be Checked rows that
// follow, in file order, the rows of every earlier call; lookup must find
// every row that earlier calls marked Spill (nil is allowed as long as
// none was).
//
// A row counts as soon as its address is valid, whatever else is wrong
// with it, so that "duplicate of row 4" always names the first occurrence
// in the file. Being a duplicate takes precedence over a row's invalid
// values and unknown groups (only an invalid address comes before it),
// and the row keeps its values.
func (d *Duplicates) Mark(rows []Row, lookup FirstRows) error {
	var ask []int // rows whose address memory had no room for
	for i := range rows {
		r := &rows[i]
		r.Spill = false
		if r.Outcome == OutcomeInvalidEmail {
			continue
		}
		if first, ok := d.mem.find(r.Email); ok {
			markDuplicate(r, first)
			continue
		}
		if d.mem.n < d.max {
			d.mem.add(r.Email, r.Line)
			continue
		}
		ask = append(ask, i)
	}
	if len(ask) == 0 {
		return nil
	}
	// Past memory: earlier calls' rows are the caller's to find; this
	// call's are compared here. here maps an address to the line of its
	// first row in this call, 0 until that row is seen (lines start at 1).
	emails := make([]string, 0, len(ask))
	here := make(map[string]int, len(ask))
	for _, i := range ask {
		if _, ok := here[rows[i].Email]; !ok {
			here[rows[i].Email] = 0
			emails = append(emails, rows[i].Email)
		}
	}
	var earlier map[string]int
	if lookup == nil {
		if d.spilled {
			return errors.New("bulk: duplicates past memory need a lookup")
		}
	} else {
		var err error
		if earlier, err = lookup(emails); err != nil {
			return fmt.Errorf("bulk: look up earlier rows: %w", err)
		}
	}
	for _, i := range ask {
		r := &rows[i]
		if first, ok := earlier[r.Email]; ok {
			markDuplicate(r, first)
			continue
		}
		if first := here[r.Email]; first != 0 {
			markDuplicate(r, first)
			continue
		}
		here[r.Email] = r.Line
		r.Spill = true
		d.spilled = true
	}
	return nil
}

func markDuplicate(r *Row, first int) {
	r.Outcome, r.Detail = OutcomeDuplicate, fmt.Sprintf("duplicate of row %d", first)
}
