package sqlstore

import "testing"

// TestTrigrams: the trigrams asked of the search index cover the term
// (every third and the last), once each, quoted, counted in characters.
func TestTrigrams(t *testing.T) {
	for q, want := range map[string]string{
		"ab":       "",
		"abc":      `"abc"`,
		"abcd":     `"abc" AND "bcd"`,
		"abcdef":   `"abc" AND "def"`,
		"abcdefg":  `"abc" AND "def" AND "efg"`,
		"aaaaaa":   `"aaa"`,
		`a"bc`:     `"a""b" AND """bc"`,
		"élise ün": `"éli" AND "se " AND " ün"`,
	} {
		if got := trigrams(q); got != want {
			t.Errorf("trigrams(%q) = %s, want %s", q, got, want)
		}
	}
}
