package pipeline

import "strings"

// keySet answers "does s hold one of these keys?" in one pass over s, by
// the first two bytes of each key, where strings.Contains once per key
// scanned s as many times as there are keys: the cleaning and masking
// pre-filters ran 50 of those scans over every ticket (make bench).
type keySet struct {
	bits     [1 << 16 / 64]uint64 // first two bytes of some key
	byPrefix map[uint16][]string
	short    []string // keys of one byte, checked with strings.Contains
}

func newKeySet(keys []string) *keySet {
	ks := &keySet{byPrefix: map[uint16][]string{}}
	for _, k := range keys {
		if len(k) < 2 {
			ks.short = append(ks.short, k)
			continue
		}
		p := uint16(k[0])<<8 | uint16(k[1])
		ks.bits[p/64] |= 1 << (p % 64)
		ks.byPrefix[p] = append(ks.byPrefix[p], k)
	}
	return ks
}

// has reports whether s contains one of the keys, as hasKey does.
func (ks *keySet) has(s string) bool {
	for _, k := range ks.short {
		if strings.Contains(s, k) {
			return true
		}
	}
	for i := 0; i+1 < len(s); i++ {
		p := uint16(s[i])<<8 | uint16(s[i+1])
		if ks.bits[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		for _, k := range ks.byPrefix[p] {
			if strings.HasPrefix(s[i:], k) {
				return true
			}
		}
	}
	return false
}

// lowerASCII lower-cases an ASCII letter and leaves any other byte alone.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasFoldASCII reports, for ASCII s, what has(strings.ToLower(s)) reports,
// without lower-casing s: the keys are in lower case, and lower-casing
// ASCII text changes A-Z only.
func (ks *keySet) hasFoldASCII(s string) bool {
	for _, k := range ks.short {
		if k == "" {
			return true
		}
		for i := 0; i < len(s); i++ {
			if lowerASCII(s[i]) == k[0] {
				return true
			}
		}
	}
	for i := 0; i+1 < len(s); i++ {
		p := uint16(lowerASCII(s[i]))<<8 | uint16(lowerASCII(s[i+1]))
		if ks.bits[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		for _, k := range ks.byPrefix[p] {
			if len(s)-i >= len(k) && lowerEqualASCII(s[i:i+len(k)], k) {
				return true
			}
		}
	}
	return false
}

// lowerEqualASCII reports whether s, lower-cased, is k.
func lowerEqualASCII(s, k string) bool {
	for j := 0; j < len(k); j++ {
		if lowerASCII(s[j]) != k[j] {
			return false
		}
	}
	return true
}
