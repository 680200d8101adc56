package pipeline

import "testing"

// FuzzMayLink checks the pre-filter never hides a link linkPattern finds.
func FuzzMayLink(f *testing.F) {
	for _, s := range []string{"", "see https://example.com", "HTTP://X.Y", "hTtPs://a", "http", "htt", "ftp://x", "ℎttp://x", "\u212attp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if linkPattern.MatchString(s) && !mayLink(s) {
			t.Fatalf("mayLink(%q) = false, but linkPattern matches", s)
		}
	})
}
