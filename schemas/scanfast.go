package schemas

import (
	"bytes"
	"sync"
	"unicode/utf8"
)

// plainOK is scan's fast path: a single pass over the bytes that returns
// true only for documents scan accepts, and false for every document it is
// not sure about, which scan then examines token by token to say exactly
// what is wrong. It is conservative on purpose: a key that is not plain
// ASCII, an escaped key, a surrogate escape, a number with an exponent all
// go the slow way. Ordinary events (ghostwriter's own, a product's tickets,
// in any language) take the fast one, which costs a tenth as much
// (BenchmarkScan).
//
// The property that matters, checked by FuzzScanFastPath: plainOK(raw)
// implies scan(raw, "") == nil.
func plainOK(raw []byte) bool { return plainOKAt(raw, 0) }

// plainOKAt is plainOK for a document that will sit at nesting depth
// depth of another (1: a property of the top-level object): it allows
// depth fewer levels.
func plainOKAt(raw []byte, depth int) bool {
	if len(raw) == 0 || len(raw) > MaxEventBytes || !utf8.Valid(raw) {
		return false
	}
	keys := keyLists.Get().(*[][]byte)
	p := plainScanner{raw: raw, keys: (*keys)[:0]}
	p.space()
	ok := p.value(depth)
	p.space()
	ok = ok && p.i == len(raw)
	clear(p.keys[:cap(p.keys)]) // hold no document in the pool
	*keys = p.keys[:0]
	keyLists.Put(keys)
	return ok
}

// keyLists recycles plainScanner's lists of open keys: the worker checks
// several documents per ticket, and a fresh list for each was 8% of the
// bytes it allocated (make bench).
var keyLists = sync.Pool{New: func() any {
	keys := make([][]byte, 0, 32)
	return &keys
}}

// plainScanner walks one document; keys holds the keys of the objects
// open, innermost last, each object owning the tail it appended.
type plainScanner struct {
	raw  []byte
	i    int
	keys [][]byte
}

func (p *plainScanner) space() {
	for p.i < len(p.raw) {
		switch p.raw[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value scans one value at nesting depth (containers already open).
func (p *plainScanner) value(depth int) bool {
	if p.i >= len(p.raw) {
		return false
	}
	switch c := p.raw[p.i]; {
	case c == '{':
		return depth < maxDepth && p.object(depth+1)
	case c == '[':
		return depth < maxDepth && p.array(depth+1)
	case c == '"':
		_, ok := p.str(false)
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return false
}

func (p *plainScanner) literal(word string) bool {
	if !bytes.HasPrefix(p.raw[p.i:], []byte(word)) {
		return false
	}
	p.i += len(word)
	return true
}

func (p *plainScanner) object(depth int) bool {
	p.i++ // {
	start := len(p.keys)
	defer func() { p.keys = p.keys[:start] }()
	p.space()
	if p.i < len(p.raw) && p.raw[p.i] == '}' {
		p.i++
		return true
	}
	for {
		if p.i >= len(p.raw) || p.raw[p.i] != '"' {
			return false
		}
		key, ok := p.str(true)
		if !ok {
			return false
		}
		for _, k := range p.keys[start:] {
			if bytes.EqualFold(k, key) { // ASCII only: exact or case variant
				return false
			}
		}
		p.keys = append(p.keys, key)
		p.space()
		if p.i >= len(p.raw) || p.raw[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		if !p.value(depth) {
			return false
		}
		p.space()
		if p.i >= len(p.raw) {
			return false
		}
		switch p.raw[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *plainScanner) array(depth int) bool {
	p.i++ // [
	p.space()
	if p.i < len(p.raw) && p.raw[p.i] == ']' {
		p.i++
		return true
	}
	for {
		if !p.value(depth) {
			return false
		}
		p.space()
		if p.i >= len(p.raw) {
			return false
		}
		switch p.raw[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

// str scans a string and returns its raw content. A key must be plain
// ASCII without escapes; a value may hold any valid UTF-8 (checked for the
// whole document up front) and escapes other than surrogates.
func (p *plainScanner) str(key bool) ([]byte, bool) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.raw) {
		c := p.raw[p.i]
		switch {
		case c == '"':
			s := p.raw[start:p.i]
			p.i++
			return s, true
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf && key:
			return nil, false
		case c == '\\':
			if key || p.i+1 >= len(p.raw) {
				return nil, false
			}
			switch p.raw[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
				continue
			case 'u':
				r, ok := hex4(p.raw[p.i+2:])
				if !ok || (r >= 0xD800 && r <= 0xDFFF) {
					return nil, false
				}
				p.i += 6
				continue
			}
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// number scans an integer or decimal literal of at most maxNumberLen
// bytes; those always fit a float64. Exponents go the slow way.
func (p *plainScanner) number() bool {
	start := p.i
	if p.raw[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.raw) && p.raw[p.i] == '0':
		p.i++
	case p.i < len(p.raw) && p.raw[p.i] >= '1' && p.raw[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.i < len(p.raw) && p.raw[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.i < len(p.raw) && (p.raw[p.i] == 'e' || p.raw[p.i] == 'E') {
		return false
	}
	return p.i-start <= maxNumberLen
}

func (p *plainScanner) digits() int {
	n := 0
	for p.i < len(p.raw) && p.raw[p.i] >= '0' && p.raw[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
