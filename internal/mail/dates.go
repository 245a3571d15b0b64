package mail

import (
	"strconv"
	"time"
)

// formatDate writes t in UTC the way the locale writes dates
// ("25 November 2026, 14:00 UTC", "25. November 2026, 14:00 UTC", ...). The
// pattern and the month names live in the catalogs, beside the sentences
// they appear in. UTC is stated rather than guessed: usher does not know the
// recipient's time zone.
func (l *locale) formatDate(t time.Time) (string, error) {
	t = t.UTC()
	month, err := l.text("month_"+strconv.Itoa(int(t.Month())), nil)
	if err != nil {
		return "", err
	}
	day := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		// French writes the first of the month as an ordinal ("1er").
		if day, err = l.text("date_day_1", nil); err != nil {
			return "", err
		}
	}
	return l.text("date_format", map[string]string{
		"Day":   day,
		"Month": month,
		"Year":  strconv.Itoa(t.Year()),
		"Time":  t.Format("15:04"),
	})
}
