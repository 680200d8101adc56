package pipeline

import (
	"strings"
	"unicode"
)

// MaxInputRunes caps the ticket text a prompt receives. Longer text keeps
// its head and tail with a marker between them: the opening states the
// problem, the end holds the latest words.
const MaxInputRunes = 12_000

// CutMarker stands where Clean removed the middle of a long text.
const CutMarker = "\n[… text cut …]\n"

// Clean normalises ticket text for a prompt: line endings, control and
// zero-width characters, trailing spaces, runs of blank lines, and length.
func Clean(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff':
			return -1
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		kept = append(kept, l)
	}
	s = strings.TrimSpace(strings.Join(kept, "\n"))
	if r := []rune(s); len(r) > MaxInputRunes {
		half := MaxInputRunes / 2
		s = string(r[:half]) + CutMarker + string(r[len(r)-half:])
	}
	return s
}
