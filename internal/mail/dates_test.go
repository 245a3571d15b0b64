package mail

import (
	"testing"
	"time"
)

func TestFormatDate(t *testing.T) {
	t.Parallel()
	r := setup(t)
	nov := time.Date(2026, time.November, 25, 14, 0, 0, 0, time.UTC)
	// 23:30 in New York on 31 Dec is already 1 Jan in UTC: dates are shown in UTC.
	newYork := time.FixedZone("EST", -5*3600)
	jan := time.Date(2025, time.December, 31, 23, 30, 0, 0, newYork)
	tests := []struct {
		lang string
		t    time.Time
		want string
	}{
		{"en", nov, "25 November 2026, 14:00 UTC"},
		{"nl", nov, "25 november 2026 om 14:00 UTC"},
		{"fr", nov, "25 novembre 2026 à 14:00 UTC"},
		{"de", nov, "25. November 2026, 14:00 UTC"},
		{"es", nov, "25 de noviembre de 2026, 14:00 UTC"},
		{"en", jan, "1 January 2026, 04:30 UTC"},
		{"fr", jan, "1er janvier 2026 à 04:30 UTC"},
		{"de", jan, "1. Januar 2026, 04:30 UTC"},
	}
	for _, tt := range tests {
		got, err := r.locales[tt.lang].formatDate(tt.t)
		if err != nil {
			t.Errorf("formatDate(%s, %v) error = %v", tt.lang, tt.t, err)
			continue
		}
		if got != tt.want {
			t.Errorf("formatDate(%s, %v) = %q, want %q", tt.lang, tt.t, got, tt.want)
		}
	}
}
