package mail

import (
	"math"
	"strconv"
	"strings"
)

// DefaultBrandColor is usher's own accent, used when an organization has not
// set one or has set something that is not "#RRGGBB".
const DefaultBrandColor = "#4f46e5"

// BrandColor returns c in lower case when it is "#RRGGBB", and
// DefaultBrandColor otherwise. Only this exact form reaches a style
// attribute, so no CSS can be smuggled in through the setting.
func BrandColor(c string) string {
	c = strings.TrimSpace(c)
	if len(c) != 7 || c[0] != '#' {
		return DefaultBrandColor
	}
	for _, r := range c[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return DefaultBrandColor
		}
	}
	return strings.ToLower(c)
}

// TextColorOn returns "#ffffff" or "#000000", whichever contrasts more with
// the "#RRGGBB" background bg (WCAG 2 contrast ratio), so a button label stays
// readable on any brand colour.
func TextColorOn(bg string) string {
	bg = BrandColor(bg)
	v, _ := strconv.ParseUint(bg[1:], 16, 32)
	l := 0.2126*channel(v>>16) + 0.7152*channel(v>>8) + 0.0722*channel(v)
	onWhite := 1.05 / (l + 0.05)
	onBlack := (l + 0.05) / 0.05
	if onBlack > onWhite {
		return "#000000"
	}
	return "#ffffff"
}

// channel is the WCAG relative luminance of one 8-bit sRGB channel.
func channel(v uint64) float64 {
	c := float64(v&0xff) / 255
	if c <= 0.04045 {
		return c / 12.92
	}
	return math.Pow((c+0.055)/1.055, 2.4)
}
