package bulk

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Column is one of the columns usher understands in an invitation file.
type Column uint8

// The recognized columns, in template order.
const (
	ColEmail Column = iota
	ColFirstName
	ColLastName
	ColLanguage
	ColGroups
	ColAdmin
	ColRole
)

// NumColumns is the number of recognized columns; Record.Fields is indexed
// by Column.
const NumColumns = 7

var columnNames = [NumColumns]string{"email", "first_name", "last_name", "language", "groups", "admin", "role"}

// String returns the column's canonical header, as in the templates.
func (c Column) String() string {
	if int(c) < NumColumns {
		return columnNames[c]
	}
	return fmt.Sprintf("Column(%d)", c)
}

// ColumnSet is a set of columns, one bit per Column.
type ColumnSet uint8

// Has reports whether c is in the set.
func (s ColumnSet) Has(c Column) bool { return s&(1<<c) != 0 }

func (s *ColumnSet) add(c Column) { *s |= 1 << c }

// aliases maps a normalized header (see headerKey) to its column. People
// export lists from many tools; these are the names those tools use.
var aliases = map[string]Column{
	"email":          ColEmail,
	"e mail":         ColEmail,
	"email address":  ColEmail,
	"e mail address": ColEmail,
	"mail":           ColEmail,
	"first name":     ColFirstName,
	"firstname":      ColFirstName,
	"given name":     ColFirstName,
	"last name":      ColLastName,
	"lastname":       ColLastName,
	"surname":        ColLastName,
	"family name":    ColLastName,
	"language":       ColLanguage,
	"lang":           ColLanguage,
	"locale":         ColLanguage,
	"groups":         ColGroups,
	"group":          ColGroups,
	"admin":          ColAdmin,
	"is admin":       ColAdmin,
	"administrator":  ColAdmin,
	"role":           ColRole,
}

// headerKey folds the ways people write one header into one key: case,
// surrounding space, a byte order mark left in the first cell, and spaces,
// hyphens and underscores (all equivalent, runs collapsed).
func headerKey(h string) string {
	h = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(h), "\uFEFF"))
	return strings.Join(strings.FieldsFunc(h, func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '_'
	}), " ")
}

// layout says where each recognized column sits in the file's rows.
type layout struct {
	index    []int8 // cell position → Column, or -1 for an ignored cell
	header   []Column
	warnings []string
}

// parseHeader reads the header row. Unknown columns are ignored with a
// warning rather than refused, because exports routinely carry extra
// columns (phone, department) that are simply not ours. A column given
// twice is refused: there is no right answer to which one wins.
func parseHeader(cells []string, line int) (*layout, error) {
	l := &layout{index: make([]int8, len(cells))}
	var seen [NumColumns]string
	var have ColumnSet
	for i, cell := range cells {
		l.index[i] = -1
		key := headerKey(cell)
		if key == "" {
			// Trailing empty columns are an artefact of many exports;
			// a column without a name carries nothing we could use.
			continue
		}
		c, ok := aliases[key]
		if !ok {
			l.warnings = append(l.warnings, fmt.Sprintf("unknown column %q ignored", strings.TrimSpace(cell)))
			continue
		}
		if have.Has(c) {
			return nil, errorf(CodeValidationFailed, line,
				"columns %q and %q are both the %s column; keep one of them",
				seen[c], strings.TrimSpace(cell), c)
		}
		have.add(c)
		seen[c] = strings.TrimSpace(cell)
		l.index[i] = int8(c)
		l.header = append(l.header, c)
	}
	if !have.Has(ColEmail) {
		if slices.ContainsFunc(cells, func(c string) bool { return strings.Contains(c, "@") }) {
			return nil, errorf(CodeValidationFailed, line,
				"the file has no header row; add a first row naming the columns (email, first_name, last_name, ...)")
		}
		return nil, errorf(CodeValidationFailed, line,
			"the file has no email column; its first row must name the columns (email, first_name, last_name, ...)")
	}
	return l, nil
}

// record maps one row's cells to a Record. Values are trimmed (which does
// not allocate); cells past the header and in ignored columns are dropped.
func (l *layout) record(line int, cells []string) (rec Record, blank bool) {
	rec.Line = line
	blank = true
	for i, cell := range cells {
		cell = strings.TrimSpace(cell)
		if cell == "" {
			continue
		}
		blank = false
		if i >= len(l.index) || l.index[i] < 0 {
			continue
		}
		c := Column(l.index[i])
		rec.Fields[c] = cell
		rec.Present.add(c)
	}
	return rec, blank
}
