package web

import "testing"

func TestTextOnPicksTheReadableColour(t *testing.T) {
	for _, c := range []struct{ bg, want string }{
		{"#4f46e5", "#ffffff"}, {"#000000", "#ffffff"}, {"#ffffff", "#111111"},
		{"#f5c518", "#111111"}, {"#16794a", "#ffffff"}, {"nonsense", "#ffffff"},
	} {
		if got := textOn(c.bg); got != c.want {
			t.Errorf("textOn(%q) = %q, want %q", c.bg, got, c.want)
		}
	}
}

func TestNeutralizeCell(t *testing.T) {
	for in, want := range map[string]string{
		"=1+2": "'=1+2", "+31 6": "'+31 6", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"ana@example.com": "ana@example.com", "": "", "a=b": "a=b",
	} {
		if got := neutralizeCell(in); got != want {
			t.Errorf("neutralizeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLocalPathRefusesOtherSites(t *testing.T) {
	for in, want := range map[string]string{
		"/i/abc": "/i/abc", "//evil.example/x": "/admin/", "https://evil.example": "/admin/",
		"/\\evil.example": "/admin/", "": "/admin/", "/a\r\nSet-Cookie: x": "/admin/",
	} {
		if got := localPath(in, "/admin/"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLinkifyEscapes(t *testing.T) {
	got := string(linkify("see <b>http://x.test/i/a?b=1&c=2</b> now"))
	want := `see &lt;b&gt;<a href="http://x.test/i/a?b=1&amp;c=2">http://x.test/i/a?b=1&amp;c=2</a>&lt;/b&gt; now`
	if got != want {
		t.Errorf("linkify = %q, want %q", got, want)
	}
}
