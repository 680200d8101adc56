package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEventBytes is the largest event document Decode accepts.
const MaxEventBytes = 1 << 20

// maxDepth bounds the nesting of objects and arrays. A valid event nests
// three levels deep (envelope, data, usage); the margin is for extension
// attributes of other producers.
const maxDepth = 32

// maxNumberLen bounds the length of a number literal; with the exponent
// bound below it keeps arbitrary-precision arithmetic in the validator cheap.
const maxNumberLen = 64

// scanFrame is an object or array being scanned.
type scanFrame struct {
	ptr     string            // JSON pointer of the container
	object  bool              // object, else array
	wantKey bool              // object: the next token is a key or '}'
	key     string            // object: the key of the current member
	keys    map[string]string // object: folded key -> key as written
	index   int               // array: index of the current element
}

// member returns the JSON pointer of the current member or element.
func (f *scanFrame) member() string {
	if f.object {
		return pointer(f.ptr, f.key)
	}
	return f.ptr + "/" + strconv.Itoa(f.index)
}

// scan enforces the rules JSON Schema cannot express: the size limit, valid
// UTF-8 everywhere (raw bytes and \u escapes), one top-level value, keys
// unique per object even when compared without case, bounded nesting and
// numbers of sane magnitude. It also rejects malformed JSON. prefix is
// prepended to every Field. Plain documents pass a fast check (plainOK);
// the rest are scanned token by token, which also says what is wrong.
func scan(raw []byte, prefix string) *FieldError {
	if plainOK(raw) {
		return nil
	}
	return scanTokens(raw, prefix)
}

// scanTokens is scan without the fast path.
func scanTokens(raw []byte, prefix string) *FieldError {
	if len(raw) > MaxEventBytes {
		return &FieldError{Kind: KindTooLarge, Field: prefix, Reason: "document larger than " + strconv.Itoa(MaxEventBytes) + " bytes"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var (
		stack   []*scanFrame
		started bool  // a top-level value has begun
		prev    int64 // offset after the previous token
	)
	// done records that a complete value ended inside the top frame.
	done := func() {
		if len(stack) == 0 {
			return
		}
		top := stack[len(stack)-1]
		if top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF) && started && len(stack) == 0:
				return nil
			case started && len(stack) == 0:
				return &FieldError{Kind: KindInvalidJSON, Field: prefix, Reason: "trailing data after the document"}
			case !utf8.Valid(raw[prev:]):
				return &FieldError{Kind: KindInvalidUTF8, Field: here(stack, prefix), Reason: "invalid UTF-8"}
			default:
				return &FieldError{Kind: KindInvalidJSON, Field: here(stack, prefix), Reason: "malformed JSON"}
			}
		}
		off := dec.InputOffset()
		chunk := raw[prev:off]
		prev = off
		if started && len(stack) == 0 {
			return &FieldError{Kind: KindInvalidJSON, Field: prefix, Reason: "trailing data after the document"}
		}
		started = true

		var top *scanFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				done()
				continue
			}
			key, ok := tok.(string)
			if !ok { // the decoder does not allow this; be defensive
				return &FieldError{Kind: KindInvalidJSON, Field: top.ptr, Reason: "malformed JSON"}
			}
			top.key = key
			top.wantKey = false
			field := top.member()
			if reason := checkString(chunk); reason != "" {
				return &FieldError{Kind: KindInvalidUTF8, Field: field, Reason: reason}
			}
			folded := foldKey(key)
			if first, dup := top.keys[folded]; dup {
				if first == key {
					return &FieldError{Kind: KindDuplicateKey, Field: field, Reason: "duplicate key"}
				}
				return &FieldError{Kind: KindDuplicateKey, Field: field, Reason: "duplicate key (differs only in case)"}
			}
			top.keys[folded] = key
			continue
		}
		if tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		field := prefix
		if top != nil {
			field = top.member()
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			if len(stack) >= maxDepth {
				return &FieldError{Kind: KindInvalidJSON, Field: field, Reason: "nested too deeply"}
			}
			f := &scanFrame{ptr: field, object: v == '{', wantKey: true}
			if f.object {
				f.keys = make(map[string]string)
			}
			stack = append(stack, f)
			continue
		case string:
			if reason := checkString(chunk); reason != "" {
				return &FieldError{Kind: KindInvalidUTF8, Field: field, Reason: reason}
			}
		case json.Number:
			if !saneNumber(string(v)) {
				return &FieldError{Kind: KindInvalidJSON, Field: field, Reason: "number out of range"}
			}
		}
		done()
	}
}

// here is the JSON pointer of the innermost container being scanned.
func here(stack []*scanFrame, prefix string) string {
	if len(stack) == 0 {
		return prefix
	}
	return stack[len(stack)-1].ptr
}

// checkString checks the raw bytes of a string token (possibly preceded by
// whitespace and separators): they must be valid UTF-8 and every \u escape
// must name a Unicode scalar value, surrogates only in proper pairs.
// It returns "" when the string is fine, else a reason.
func checkString(chunk []byte) string {
	if !utf8.Valid(chunk) {
		return "invalid UTF-8"
	}
	start := bytes.IndexByte(chunk, '"')
	if start < 0 || bytes.IndexByte(chunk[start:], '\\') < 0 {
		return ""
	}
	s := chunk[start+1:]
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			return ""
		case '\\':
			if i+1 >= len(s) {
				return ""
			}
			if s[i+1] != 'u' {
				i++ // skip the escaped character
				continue
			}
			r, ok := hex4(s[i+2:])
			if !ok {
				return "" // malformed; the decoder has already said so
			}
			i += 5
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return "invalid UTF-8 (unpaired surrogate escape)"
			case r >= 0xD800 && r <= 0xDBFF:
				rest := s[i+1:]
				if len(rest) < 6 || rest[0] != '\\' || rest[1] != 'u' {
					return "invalid UTF-8 (unpaired surrogate escape)"
				}
				lo, ok := hex4(rest[2:])
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return "invalid UTF-8 (unpaired surrogate escape)"
				}
				i += 6
			}
		}
	}
	return ""
}

// hex4 parses the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(n), err == nil
}

// saneNumber reports whether a JSON number literal is short, fits a
// float64 and has an exponent of at most three significant digits.
func saneNumber(lit string) bool {
	if len(lit) > maxNumberLen {
		return false
	}
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		exp := strings.TrimLeft(strings.TrimLeft(lit[i+1:], "+-"), "0")
		if len(exp) > 3 {
			return false
		}
	}
	_, err := strconv.ParseFloat(lit, 64)
	return err == nil
}

// foldKey maps a key to a canonical form shared by every key that equals
// it under Unicode simple case folding, the rule strings.EqualFold uses.
// encoding/json matches keys to struct fields without regard to case, so
// two such keys in one object would be ambiguous.
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s) // the smallest rune of each ASCII orbit
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune returns the smallest rune in the case-folding orbit of r.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}
