package pipeline

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// headRE finds the matches of an expression \b(?:…)… that can only start
// where one of a few literal heads starts, such as the secret patterns:
// "password", "token", "sk-". The expression has no literal prefix, so the
// regexp engine would step through the whole text; headRE looks for the
// heads in one cheap pass and runs the expression, anchored, only where
// one starts (make bench: the secret expressions took a third of Mask's
// time on tickets that name a password, a token or a PIN).
//
// Its matches are exactly FindAllStringSubmatchIndex's on the unanchored
// expression: that returns, from the end of the last match on, the
// leftmost match, and every match starts where a head does; at each such
// place headRE checks the word boundary the way the engine does (only an
// ASCII letter, digit or underscore is a word rune) and runs the rest of
// the expression anchored there, which finds the same match the engine
// prefers at that place.
type headRE struct {
	at    *regexp.Regexp // the expression after \b, anchored: ^(?:…)…
	heads []string       // every match starts with one of these
	fold  bool           // the expression is (?i): heads match under Unicode case folding
	pairs [1 << 16 / 64]uint64
	odd   []string // non-ASCII runes that fold with a head's first rune (ſ, K)
	alone *headScanner
}

// newHeadRE takes the flags ("(?i)" or ""), the expression without its
// leading \b, and the heads. Every head starts with two ASCII runes or an
// ASCII rune and a non-ASCII one.
func newHeadRE(flags, expr string, heads ...string) *headRE {
	h := &headRE{at: regexp.MustCompile(flags + `^` + expr), heads: heads, fold: strings.Contains(flags, "i")}
	for _, k := range heads {
		if len(k) < 2 || k[0] >= utf8.RuneSelf {
			panic("pipeline: head " + k + " does not start with an ASCII rune")
		}
		if h.fold {
			for f := unicode.SimpleFold(rune(k[0])); f != rune(k[0]); f = unicode.SimpleFold(f) {
				if f >= utf8.RuneSelf && !containsString(h.odd, string(f)) {
					h.odd = append(h.odd, string(f))
				}
			}
		}
		if k[1] >= utf8.RuneSelf {
			continue // found through the non-ASCII second byte
		}
		a, b := k[0], k[1]
		if h.fold {
			a, b = lowerASCII(a), lowerASCII(b)
		}
		p := uint16(a)<<8 | uint16(b)
		h.pairs[p/64] |= 1 << (p % 64)
	}
	h.alone = newHeadScanner(h)
	return h
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mayStart reports whether a head of h could start at s[i:], by its first
// two bytes: a head's first two runes are ASCII, or the second is not, so
// ASCII text there that the pair table does not hold starts no head (under
// (?i) an ASCII letter folds only with its other case and with non-ASCII
// runes), and non-ASCII text starts one only with a rune of odd.
func (h *headRE) mayStart(s string, i int) bool {
	c := s[i]
	if c >= utf8.RuneSelf {
		return h.startsOdd(s[i:])
	}
	if i+1 >= len(s) || s[i+1] >= utf8.RuneSelf {
		return true
	}
	a, b := c, s[i+1]
	if h.fold {
		a, b = lowerASCII(a), lowerASCII(b)
	}
	p := uint16(a)<<8 | uint16(b)
	return h.pairs[p/64]&(1<<(p%64)) != 0
}

func (h *headRE) startsOdd(s string) bool {
	for _, o := range h.odd {
		if strings.HasPrefix(s, o) {
			return true
		}
	}
	return false
}

// startsHead reports whether s starts with a head, folding case as (?i)
// does.
func (h *headRE) startsHead(s string) bool {
	for _, k := range h.heads {
		if h.fold && hasFoldPrefix(s, k) || !h.fold && strings.HasPrefix(s, k) {
			return true
		}
	}
	return false
}

// hasFoldPrefix reports whether s starts with prefix under simple Unicode
// case folding, as a (?i) literal matches: rune by rune, within one orbit
// of unicode.SimpleFold.
func hasFoldPrefix(s, prefix string) bool {
	for _, want := range prefix {
		if s == "" {
			return false
		}
		c, size := utf8.DecodeRuneInString(s)
		if !foldEq(c, want) {
			return false
		}
		s = s[size:]
	}
	return true
}

func foldEq(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		return lowerASCII(byte(a)) == lowerASCII(byte(b)) && 'a' <= lowerASCII(byte(a)) && lowerASCII(byte(a)) <= 'z'
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// wordBoundary reports \b at offset i of s, as the regexp engine decides
// it: a word rune (ASCII letter, digit or underscore) on one side only.
func wordBoundary(s string, i int) bool {
	before := i > 0 && s[i-1] < utf8.RuneSelf && syntax.IsWordChar(rune(s[i-1]))
	after := i < len(s) && s[i] < utf8.RuneSelf && syntax.IsWordChar(rune(s[i]))
	return before != after
}

// findAll returns what FindAllStringSubmatchIndex returns for \b followed
// by the expression.
func (h *headRE) findAll(s string) [][]int {
	var buf [16]headAt
	return h.findAllAt(s, h.alone.scan(s, buf[:0]), 1)
}

// findAllAt is findAll given the places where heads start (headScanner),
// those of h marked by bit.
func (h *headRE) findAllAt(s string, at []headAt, bit uint8) [][]int {
	var out [][]int
	from := 0
	for _, c := range at {
		p := c.i
		if c.mask&bit == 0 || p < from || !wordBoundary(s, p) {
			continue
		}
		m := h.at.FindStringSubmatchIndex(s[p:])
		if m == nil {
			continue
		}
		for i := range m {
			if m[i] >= 0 {
				m[i] += p
			}
		}
		out = append(out, m)
		from = m[1]
	}
	return out
}

// headAt is a place where a head of some of the scanned headREs starts:
// bit k of mask stands for the k-th.
type headAt struct {
	i    int
	mask uint8
}

// headScanner finds the heads of up to 8 headREs in one pass over a text.
type headScanner struct {
	hs []*headRE
	// first and second say which of hs a byte may be the first, or the
	// second, byte of a head of: the first byte of a rune that folds with
	// the head's first rune, or, after an ASCII one, with its second. Any
	// non-ASCII byte may be a second byte (of a non-ASCII first rune).
	first, second [256]uint8
}

func newHeadScanner(hs ...*headRE) *headScanner {
	if len(hs) > 8 {
		panic("pipeline: more than 8 headREs in one scanner")
	}
	sc := &headScanner{hs: hs}
	for k, h := range hs {
		for c := utf8.RuneSelf; c < 256; c++ {
			sc.first[c] |= 1 << k
			sc.second[c] |= 1 << k
		}
		for _, head := range h.heads {
			r1, n := utf8.DecodeRuneInString(head)
			r2, _ := utf8.DecodeRuneInString(head[n:])
			for _, f := range h.orbit(r1) {
				if f < utf8.RuneSelf {
					sc.first[f] |= 1 << k
				}
			}
			for _, f := range h.orbit(r2) {
				if f < utf8.RuneSelf {
					sc.second[f] |= 1 << k
				}
			}
		}
	}
	return sc
}

// orbit returns the runes that match r in h's expression: r, and under
// (?i) the runes it folds with.
func (h *headRE) orbit(r rune) []rune {
	out := []rune{r}
	if h.fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			out = append(out, f)
		}
	}
	return out
}

// scan appends to at, in order, every offset of s where a head of one of
// the scanner's headREs starts.
func (sc *headScanner) scan(s string, at []headAt) []headAt {
	for i := 0; i+1 < len(s); i++ { // a head has two runes at least
		may := sc.first[s[i]] & sc.second[s[i+1]]
		if may == 0 {
			continue
		}
		var mask uint8
		for k, h := range sc.hs {
			if may&(1<<k) != 0 && h.mayStart(s, i) && h.startsHead(s[i:]) {
				mask |= 1 << k
			}
		}
		if mask != 0 {
			at = append(at, headAt{i, mask})
		}
	}
	return at
}
