package account

import "testing"

func TestUsernameFromEmail(t *testing.T) {
	t.Parallel()
	for email, want := range map[string]string{
		"Ana.Silva+news@example.com":                      "ana.silva",
		"o'brien@mail.example.ie":                         "o-brien",
		"jürgen.müller@bücher.de":                         "jurgen.muller",
		"françois@example.fr":                             "francois",
		"søren.ærø@example.dk":                            "soren.aero",
		"straße@example.de":                               "strasse",
		"łukasz@example.pl":                               "lukasz",
		"x@example.com":                                   "x-user",
		"+x@example.com":                                  "x-user",
		"用户@example.cn":                                   "user",
		"--__..@example.com":                              "user",
		"a.very.long.local.part.that.goes.on@example.com": "a.very.long.local.part.that.goes",
		"abcdefghijklmnopqrstuvwxyz01234.-x@example.com":  "abcdefghijklmnopqrstuvwxyz01234",
	} {
		got := UsernameFromEmail(email)
		if got != want {
			t.Errorf("UsernameFromEmail(%q) = %q, want %q", email, got, want)
		}
		if why := CheckUsername(got); why != "" {
			t.Errorf("UsernameFromEmail(%q) = %q, which CheckUsername refuses: %s", email, got, why)
		}
	}
}
