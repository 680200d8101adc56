package pipeline

import "strings"

// mayLink reports whether s could hold a match of linkPattern, which
// needs "http" in any case: the pattern has no literal prefix for the
// regexp engine to skip ahead to, so looking for one first spares the
// drafts without a link (nearly all) a full regexp pass. No non-ASCII
// rune folds to h, t or p, so ASCII case folding is exact.
func mayLink(s string) bool {
	for i := 0; i+4 <= len(s); i++ {
		if c := s[i] | 0x20; c == 'h' && strings.EqualFold(s[i:i+4], "http") {
			return true
		}
	}
	return false
}
