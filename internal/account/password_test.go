package account

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// TestCommonPasswords: every entry of the shipped list is refused, in any
// case, and passwords not on it are not.
func TestCommonPasswords(t *testing.T) {
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for sc := bufio.NewScanner(zr); sc.Scan(); n++ {
		entry := sc.Text()
		if !IsCommonPassword(entry) || !IsCommonPassword(strings.ToUpper(entry)) && entry == strings.ToLower(entry) {
			t.Fatalf("%q is on the list but not refused", entry)
		}
	}
	if n < 30000 {
		t.Fatalf("the list has %d entries", n)
	}
	for _, p := range []string{"correct horse battery", "Tr0ub4dor&3-usher", "ziggurat-lantern-1987"} {
		if IsCommonPassword(p) {
			t.Errorf("%q refused as common", p)
		}
	}
}
