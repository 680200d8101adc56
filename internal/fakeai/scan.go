package fakeai

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// scanQuestion reads what an answer needs from a chat request body in
// one pass over its bytes, with no allocation but the model's name: the
// fast path of handleChat, for the bench's hundreds of thousands of
// requests. It answers only when it is sure to agree with json.Unmarshal
// into chatRequest followed by chatRequest.words; anything unusual sends
// the body to them (ok false): a key that is escaped, not ASCII, repeated,
// or one of the known ones in another case (encoding/json matches field
// names without regard to case), a known field of an unexpected type,
// nesting deeper than scanMaxDepth, a top level that is not an object.
func scanQuestion(b []byte) (q question, ok bool) {
	s := qscan{b: b}
	var seenModel, seenMessages, seenFormat bool
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "model":
			if seenModel {
				return false
			}
			seenModel = true
			var ok bool
			q.model, ok = s.name()
			return ok
		case "messages":
			if seenMessages {
				return false
			}
			seenMessages = true
			var ok bool
			q.words, ok = s.messages()
			return ok
		case "response_format":
			if seenFormat {
				return false
			}
			seenFormat = true
			var ok bool
			q.schema, ok = s.responseFormat()
			return ok
		}
		if foldsTo(key, "model", "messages", "response_format") {
			return false
		}
		return s.skip(1)
	})
	if !ok {
		return question{}, false
	}
	s.ws()
	return q, s.i == len(s.b)
}

// scanMaxDepth bounds the nesting scanQuestion follows; encoding/json
// allows 10,000 levels, so deeper bodies go to it.
const scanMaxDepth = 100

type qscan struct {
	b []byte
	i int
}

func foldsTo(key []byte, names ...string) bool {
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

func (s *qscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat consumes c after any whitespace.
func (s *qscan) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// null consumes the literal null after any whitespace.
func (s *qscan) null() bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// object reads an object after any whitespace, calling field with each
// key when the scanner stands before its value; field reads the value.
// Keys must be plain ASCII without escapes.
func (s *qscan) object(field func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, ok := s.key()
		if !ok || !s.eat(':') || !field(key) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// key reads a key that is plain printable ASCII without escapes.
func (s *qscan) key() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

// name reads a string or null (""), as decoding into a string field does.
// Strings with escapes or bytes that are not valid UTF-8 go the slow way.
func (s *qscan) name() (string, bool) {
	if s.null() {
		return "", true
	}
	if !s.eat('"') {
		return "", false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			v := s.b[start : s.i-1]
			return string(v), utf8.Valid(v)
		case c < 0x20 || c == '\\':
			return "", false
		}
	}
	return "", false
}

// messages reads the messages array, or null, and counts the words of
// their contents.
func (s *qscan) messages() (int, bool) {
	if s.null() {
		return 0, true
	}
	n := 0
	ok := s.array(func() bool {
		seen := false
		return s.object(func(key []byte) bool {
			switch {
			case string(key) == "content":
				if seen {
					return false
				}
				seen = true
				w, ok := s.content()
				n += w
				return ok
			case foldsTo(key, "content"):
				return false
			}
			return s.skip(2)
		})
	})
	return n, ok
}

// content counts the words of a message's content: a string, null, or a
// list of parts whose "text" strings count.
func (s *qscan) content() (int, bool) {
	if s.null() {
		return 0, true
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		return s.words()
	}
	n := 0
	ok := s.array(func() bool {
		seen := false
		return s.object(func(key []byte) bool {
			if string(key) != "text" {
				return s.skip(4)
			}
			if seen {
				return false
			}
			seen = true
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == '"' {
				w, ok := s.words()
				n += w
				return ok
			}
			return s.skip(4) // not text: no words, as the map lookup finds none
		})
	})
	return n, ok
}

// array reads an array after any whitespace, calling elem before each
// element; elem reads it.
func (s *qscan) array(elem func() bool) bool {
	if !s.eat('[') {
		return false
	}
	if s.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat(']')
	}
}

// responseFormat reads response_format, or null, for its json_schema's
// name.
func (s *qscan) responseFormat() (string, bool) {
	if s.null() {
		return "", true
	}
	name, seen := "", false
	ok := s.object(func(key []byte) bool {
		switch {
		case string(key) == "json_schema":
			if seen {
				return false
			}
			seen = true
			if s.null() {
				return true
			}
			seenName := false
			return s.object(func(key []byte) bool {
				switch {
				case string(key) == "name":
					if seenName {
						return false
					}
					seenName = true
					var ok bool
					name, ok = s.name()
					return ok
				case foldsTo(key, "name"):
					return false
				}
				return s.skip(3)
			})
		case foldsTo(key, "json_schema"):
			return false
		}
		return s.skip(2)
	})
	return name, ok
}

// words reads a string and counts its words as countWords counts those
// of the decoded string: escapes are decoded as encoding/json decodes
// them, bytes that are not UTF-8 read as U+FFFD.
func (s *qscan) words() (int, bool) {
	if !s.eat('"') {
		return 0, false
	}
	n, in := 0, false
	for s.i < len(s.b) {
		c := s.b[s.i]
		var r rune
		switch {
		case c == '"':
			s.i++
			return n, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return 0, false
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				u := s.u4(s.i - 2)
				if u < 0 {
					return 0, false
				}
				s.i += 4
				r = u
				if utf16.IsSurrogate(u) {
					r = unicode.ReplacementChar
					if u2 := s.u4(s.i); u2 >= 0 {
						if d := utf16.DecodeRune(u, u2); d != unicode.ReplacementChar {
							r = d
							s.i += 6
						}
					}
				}
			default:
				return 0, false
			}
		case c < utf8.RuneSelf:
			// Raw control characters are refused above: the space is
			// the one ASCII space left.
			s.i++
			if c == ' ' {
				in = false
			} else if !in {
				in, n = true, n+1
			}
			continue
		default:
			var size int
			r, size = utf8.DecodeRune(s.b[s.i:])
			s.i += size
		}
		if unicode.IsSpace(r) {
			in = false
		} else if !in {
			in, n = true, n+1
		}
	}
	return 0, false
}

// u4 reads the \uXXXX escape at i, or returns -1.
func (s *qscan) u4(i int) rune {
	if i+6 > len(s.b) || s.b[i] != '\\' || s.b[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s.b[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// skip reads any JSON value, at nesting depth depth.
func (s *qscan) skip(depth int) bool {
	if depth > scanMaxDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case c == '"':
		return s.skipString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

func (s *qscan) literal(lit string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// skipString reads a string: no raw control characters, only JSON's
// escapes. Bytes that are not UTF-8 are allowed, as encoding/json allows
// them.
func (s *qscan) skipString() bool {
	s.i++ // the quote
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.u4(s.i) < 0 {
					return false
				}
				s.i += 6
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

// number reads a number as JSON writes one.
func (s *qscan) number() bool {
	digits := func() int {
		start := s.i
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
		return s.i - start
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case digits() == 0:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
