package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The fast path of Decode, Encode and Validate: a one-pass check of a plain
// document (plainOK) against the same JSON Schema files, compiled at init
// into a small tree of the keywords they use. It answers only "valid, sure"
// or "not sure": anything it does not know (a keyword, a number with a
// fraction at a bound, an escaped string where a pattern applies, a key
// outside the schema) sends the document the slow way, through the JSON
// Schema validator, which then also says exactly what is wrong. So the
// fast path can never reject what the slow one accepts, and the property
// that matters, checked by FuzzFastPath and TestFastPath*, is:
//
//	fastOK(raw) implies the slow path accepts raw, and decodes it the same.
//
// It costs a fraction of the slow path (BenchmarkDecode): the worker
// decodes every ticket and validates every event it publishes, which made
// schema validation a quarter of its CPU (make bench).

// fastKind is the JSON type a fastSchema accepts.
type fastKind uint8

const (
	fastAny fastKind = iota // the schema true: any value
	fastString
	fastInteger
	fastNumber
	fastBoolean
	fastObject
	fastArray
)

// fastSchema is one compiled (sub)schema.
type fastSchema struct {
	kind fastKind
	// strings
	minLen, maxLen int // maxLen < 0: no limit
	pattern        *regexp.Regexp
	format         string   // "", "date-time" or "uri"
	enum           []string // const is an enum of one
	// integers and numbers
	hasMin, hasMax bool
	min, max       float64
	// objects
	props        []fastProp
	requiredMask uint64
	extKeys      []*regexp.Regexp // patternProperties whose schema is true
	closed       bool             // additionalProperties: false
	// arrays
	items              *fastSchema
	minItems, maxItems int // maxItems < 0: no limit
	unique             bool
}

type fastProp struct {
	name   string
	schema *fastSchema
}

// Compiled fast schemas; nil where a schema uses a keyword the fast path
// does not know, so that type always goes the slow way.
var (
	fastEnvelope *fastSchema
	fastData     map[string]*fastSchema
	// envelope property indexes, for decodeFast
	envIdx struct{ specversion, id, source, typ, time, subject, datacontenttype, dataschema, traceparent, data int }
)

func init() {
	load := func(name string) *fastSchema {
		raw, err := schemaFS.ReadFile(name + ".v1.json")
		if err != nil {
			return nil
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil
		}
		s, err := compileFast(doc)
		if err != nil {
			return nil // not fast, still correct
		}
		return s
	}
	fastData = make(map[string]*fastSchema, len(types))
	for _, typ := range types {
		// Data is decoded into Go types that take no unknown field, so
		// only closed objects can skip checkGoType.
		if s := load(typ); s != nil && s.kind == fastObject && allClosed(s) {
			fastData[typ] = s
		}
	}
	env := load(envelopeName)
	if env == nil || env.kind != fastObject {
		return
	}
	idx := func(name string) int {
		return slices.IndexFunc(env.props, func(p fastProp) bool { return p.name == name })
	}
	envIdx.specversion, envIdx.id, envIdx.source, envIdx.typ = idx("specversion"), idx("id"), idx("source"), idx("type")
	envIdx.time, envIdx.subject, envIdx.datacontenttype = idx("time"), idx("subject"), idx("datacontenttype")
	envIdx.dataschema, envIdx.traceparent, envIdx.data = idx("dataschema"), idx("traceparent"), idx("data")
	for _, i := range []int{envIdx.specversion, envIdx.id, envIdx.source, envIdx.typ, envIdx.time,
		envIdx.subject, envIdx.datacontenttype, envIdx.dataschema, envIdx.traceparent, envIdx.data} {
		if i < 0 {
			return // an envelope without the CloudEvents attributes decodeFast fills
		}
	}
	// The envelope's data is checked against the schema of its type.
	if d := env.props[envIdx.data].schema; d.kind != fastObject || len(d.props) > 0 || d.closed || len(d.extKeys) > 0 {
		return
	}
	fastEnvelope = env
}

// allClosed reports whether every object schema in s admits only the
// properties it names.
func allClosed(s *fastSchema) bool {
	if s.kind == fastAny {
		return false
	}
	if s.kind == fastArray {
		return allClosed(s.items)
	}
	if s.kind != fastObject {
		return true
	}
	if !s.closed || len(s.extKeys) > 0 {
		return false
	}
	for _, p := range s.props {
		if !allClosed(p.schema) {
			return false
		}
	}
	return true
}

// count reads a length or item-count keyword: a whole, non-negative
// number within reason.
func count(k string, v any) (int, error) {
	n, ok := v.(float64)
	if !ok || n < 0 || n != math.Trunc(n) || n > 1<<30 {
		return 0, fmt.Errorf("%s", k)
	}
	return int(n), nil
}

// annotations are keywords that do not constrain a value.
var annotations = map[string]bool{"$schema": true, "$id": true, "$comment": true, "title": true, "description": true, "examples": true}

// compileFast compiles the subset of JSON Schema the event schemas use. It
// fails on anything else.
func compileFast(doc any) (*fastSchema, error) {
	if b, ok := doc.(bool); ok {
		if b {
			return &fastSchema{kind: fastAny}, nil
		}
		return nil, fmt.Errorf("schema false")
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema is not an object")
	}
	s := &fastSchema{maxLen: -1, maxItems: -1}
	typ, _ := m["type"].(string)
	switch typ {
	case "string":
		s.kind = fastString
	case "integer":
		s.kind = fastInteger
	case "number":
		s.kind = fastNumber
	case "boolean":
		s.kind = fastBoolean
	case "object":
		s.kind = fastObject
	case "array":
		s.kind = fastArray
	case "":
		if _, t := m["type"]; t {
			return nil, fmt.Errorf("type is not one name")
		}
		_, hasConst := m["const"]
		_, hasEnum := m["enum"]
		if !hasConst && !hasEnum {
			if len(m) == 0 {
				return &fastSchema{kind: fastAny}, nil
			}
			return nil, fmt.Errorf("no type")
		}
		s.kind = fastString // a const or enum of strings: only a string can match
	default:
		return nil, fmt.Errorf("type %q", typ)
	}
	for k, v := range m {
		if annotations[k] || k == "type" {
			continue
		}
		var err error
		switch {
		case k == "const" && s.kind == fastString:
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("const is not a string")
			}
			s.enum = append(s.enum, str)
		case k == "enum" && s.kind == fastString:
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("enum is not a list")
			}
			for _, e := range list {
				str, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("enum holds a non-string")
				}
				s.enum = append(s.enum, str)
			}
		case k == "minLength" && s.kind == fastString:
			s.minLen, err = count(k, v)
		case k == "maxLength" && s.kind == fastString:
			s.maxLen, err = count(k, v)
		case k == "pattern" && s.kind == fastString:
			str, _ := v.(string)
			if s.pattern, err = regexp.Compile(str); err != nil {
				return nil, err
			}
		case k == "format" && s.kind == fastString:
			s.format, _ = v.(string)
			if s.format != "date-time" && s.format != "uri" {
				return nil, fmt.Errorf("format %q", s.format)
			}
		case (k == "minimum" || k == "maximum") && (s.kind == fastInteger || s.kind == fastNumber):
			n, ok := v.(float64)
			// Bounds must be integers a float64 holds exactly, so that
			// comparing parsed values with them is exact (see number).
			if !ok || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
				return nil, fmt.Errorf("%s", k)
			}
			if k == "minimum" {
				s.hasMin, s.min = true, n
			} else {
				s.hasMax, s.max = true, n
			}
		case k == "properties" && s.kind == fastObject:
			props, ok := v.(map[string]any)
			if !ok || len(props) > 64 {
				return nil, fmt.Errorf("properties")
			}
			for _, name := range slices.Sorted(maps.Keys(props)) {
				sub, err := compileFast(props[name])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				s.props = append(s.props, fastProp{name: name, schema: sub})
			}
		case k == "items" && s.kind == fastArray:
			if s.items, err = compileFast(v); err != nil {
				return nil, fmt.Errorf("items: %w", err)
			}
		case k == "minItems" && s.kind == fastArray:
			s.minItems, err = count(k, v)
		case k == "maxItems" && s.kind == fastArray:
			s.maxItems, err = count(k, v)
		case k == "uniqueItems" && s.kind == fastArray:
			s.unique, _ = v.(bool)
		case k == "required" && s.kind == fastObject, k == "additionalProperties" && s.kind == fastObject,
			k == "patternProperties" && s.kind == fastObject:
			// after properties, below
		default:
			return nil, fmt.Errorf("keyword %q", k)
		}
		if err != nil {
			return nil, err
		}
	}
	if s.kind == fastArray {
		switch {
		case s.items == nil:
			return nil, fmt.Errorf("an array without items")
		case s.unique && s.items.kind != fastString:
			// Unique strings compare by their bytes (below); other
			// items would need JSON equality.
			return nil, fmt.Errorf("uniqueItems of other than strings")
		}
		return s, nil
	}
	if s.kind != fastObject {
		return s, nil
	}
	if ap, ok := m["additionalProperties"]; ok {
		if b, isBool := ap.(bool); !isBool || b {
			return nil, fmt.Errorf("additionalProperties other than false")
		}
		s.closed = true
	}
	if pp, ok := m["patternProperties"]; ok {
		pm, isMap := pp.(map[string]any)
		if !isMap {
			return nil, fmt.Errorf("patternProperties")
		}
		for pat, sub := range pm {
			if b, isBool := sub.(bool); !isBool || !b {
				return nil, fmt.Errorf("patternProperties other than true")
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, err
			}
			s.extKeys = append(s.extKeys, re)
		}
	}
	if rq, ok := m["required"]; ok {
		list, isList := rq.([]any)
		if !isList {
			return nil, fmt.Errorf("required")
		}
		for _, r := range list {
			name, _ := r.(string)
			i := slices.IndexFunc(s.props, func(p fastProp) bool { return p.name == name })
			if i < 0 {
				return nil, fmt.Errorf("required %q is not a property", name)
			}
			s.requiredMask |= 1 << i
		}
	}
	return s, nil
}

// fastParser walks a document plainOK accepted: well-formed JSON, valid
// UTF-8, keys plain ASCII, unescaped and unique even without case, no
// surrogate escapes, numbers without exponent. It still checks bounds, so
// any other input makes it answer false, never panic.
type fastParser struct {
	raw []byte
	i   int
}

func (p *fastParser) space() {
	for p.i < len(p.raw) {
		switch p.raw[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) peek() byte {
	if p.i < len(p.raw) {
		return p.raw[p.i]
	}
	return 0
}

// str reads a string at p.i and returns its raw content and whether it
// holds an escape.
func (p *fastParser) str() (content []byte, escaped, ok bool) {
	if p.peek() != '"' {
		return nil, false, false
	}
	p.i++
	start := p.i
	for p.i <= len(p.raw) {
		// Jump to the next quote, then look for an escape before it:
		// both with IndexByte, which is much faster than a byte loop on
		// a ticket's body.
		q := bytes.IndexByte(p.raw[p.i:], '"')
		if q < 0 {
			return nil, false, false
		}
		b := bytes.IndexByte(p.raw[p.i:p.i+q], '\\')
		if b < 0 {
			p.i += q
			content = p.raw[start:p.i]
			p.i++
			return content, escaped, true
		}
		escaped = true
		p.i += b + 2 // the backslash and the byte it escapes
	}
	return nil, false, false
}

// skip passes over any value.
func (p *fastParser) skip() bool {
	switch c := p.peek(); {
	case c == '"':
		_, _, ok := p.str()
		return ok
	case c == '{' || c == '[':
		depth := 0
		for p.i < len(p.raw) {
			switch p.raw[p.i] {
			case '"':
				if _, _, ok := p.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return true
				}
			}
			p.i++
		}
		return false
	default:
		start := p.i
		for p.i < len(p.raw) && bytes.IndexByte([]byte("-+.0123456789eEtruefalsn"), p.raw[p.i]) >= 0 {
			p.i++
		}
		return p.i > start
	}
}

// number reads a number literal.
func (p *fastParser) number() []byte {
	start := p.i
	for p.i < len(p.raw) && bytes.IndexByte([]byte("-+.0123456789eE"), p.raw[p.i]) >= 0 {
		p.i++
	}
	return p.raw[start:p.i]
}

// value checks the value at p.i against s. spans, when given, receives
// the [start, end) of each property of an object schema, by index.
func (s *fastSchema) value(p *fastParser, spans [][2]int) bool {
	switch s.kind {
	case fastAny:
		return p.skip()
	case fastString:
		content, escaped, ok := p.str()
		return ok && s.checkString(content, escaped)
	case fastInteger, fastNumber:
		return s.checkNumber(p.number())
	case fastBoolean:
		for _, lit := range []string{"true", "false"} {
			if bytes.HasPrefix(p.raw[p.i:], []byte(lit)) {
				p.i += len(lit)
				return true
			}
		}
		return false
	case fastObject:
		return s.object(p, spans)
	case fastArray:
		return s.array(p)
	}
	return false
}

// array checks an array. Unique items are strings compared by their raw
// bytes, which is JSON equality for strings without escapes; an escaped
// one goes the slow way.
func (s *fastSchema) array(p *fastParser) bool {
	if p.peek() != '[' {
		return false
	}
	p.i++
	p.space()
	var seen [][]byte
	n := 0
	if p.peek() == ']' {
		p.i++
		return s.minItems == 0
	}
	for {
		start := p.i
		if !s.items.value(p, nil) {
			return false
		}
		n++
		if s.unique {
			item := p.raw[start:p.i]
			if bytes.IndexByte(item, '\\') >= 0 {
				return false
			}
			for _, o := range seen {
				if bytes.Equal(o, item) {
					return false
				}
			}
			seen = append(seen, item)
		}
		p.space()
		switch p.peek() {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			return n >= s.minItems && (s.maxItems < 0 || n <= s.maxItems)
		default:
			return false
		}
	}
}

func (s *fastSchema) object(p *fastParser, spans [][2]int) bool {
	if p.peek() != '{' {
		return false
	}
	p.i++
	p.space()
	var seen uint64
	if p.peek() == '}' {
		p.i++
		return s.requiredMask == 0
	}
	for {
		key, escaped, ok := p.str()
		if !ok || escaped {
			return false
		}
		p.space()
		if p.peek() != ':' {
			return false
		}
		p.i++
		p.space()
		start := p.i
		if i := s.prop(key); i >= 0 {
			if !s.props[i].schema.value(p, nil) {
				return false
			}
			seen |= 1 << i
			if spans != nil {
				spans[i] = [2]int{start, p.i}
			}
		} else if s.extKey(key) || !s.closed {
			if !p.skip() {
				return false
			}
		} else {
			return false
		}
		p.space()
		switch p.peek() {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			return seen&s.requiredMask == s.requiredMask
		default:
			return false
		}
	}
}

func (s *fastSchema) prop(key []byte) int {
	for i := range s.props {
		if s.props[i].name == string(key) {
			return i
		}
	}
	return -1
}

func (s *fastSchema) extKey(key []byte) bool {
	for _, re := range s.extKeys {
		if re.Match(key) {
			return true
		}
	}
	return false
}

// checkString checks a string's raw content. Its length in code points
// counts each escape as one: plainOK lets no surrogate escape through, so
// every escape stands for exactly one code point. Enums, patterns and
// formats are checked only on unescaped strings; an escaped one goes the
// slow way.
func (s *fastSchema) checkString(content []byte, escaped bool) bool {
	if s.minLen > 0 || s.maxLen >= 0 {
		n := runeLen(content, escaped)
		if n < s.minLen || (s.maxLen >= 0 && n > s.maxLen) {
			return false
		}
	}
	if s.enum == nil && s.pattern == nil && s.format == "" {
		return true
	}
	if escaped {
		return false
	}
	if s.enum != nil && !slices.Contains(s.enum, string(content)) {
		return false
	}
	if s.pattern != nil && !s.pattern.Match(content) {
		return false
	}
	switch s.format {
	case "date-time":
		return validateTime(string(content)) == nil
	case "uri":
		// Only the schema URLs themselves, the dataschema of every
		// event, are known to be URIs here; any other goes the slow way.
		_, known := schemaURLs[string(content)]
		return known
	}
	return true
}

// schemaURLs are the dataschema values of the known types.
var schemaURLs = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, typ := range types {
		m[schemaURL(typ)] = struct{}{}
	}
	return m
}()

func runeLen(content []byte, escaped bool) int {
	if !escaped {
		return utf8.RuneCount(content)
	}
	n := 0
	for i := 0; i < len(content); {
		switch c := content[i]; {
		case c == '\\' && i+1 < len(content) && content[i+1] == 'u':
			i += 6
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			_, size := utf8.DecodeRune(content[i:])
			i += size
		}
		n++
	}
	return n
}

// checkNumber checks a number literal (plainOK: no exponent, at most 64
// bytes). An integer must be written without a fraction and fit an int64;
// a number is compared with the bounds as a float64, which is exact for
// the integral bounds compileFast allows except when the parsed value
// equals a bound, where a literal with a non-zero fraction goes the slow
// way.
func (s *fastSchema) checkNumber(lit []byte) bool {
	if len(lit) == 0 {
		return false
	}
	frac := bytes.IndexByte(lit, '.')
	if s.kind == fastInteger {
		if frac >= 0 {
			return false
		}
		n, err := strconv.ParseInt(string(lit), 10, 64)
		if err != nil {
			return false
		}
		return (!s.hasMin || float64(n) >= s.min) && (!s.hasMax || float64(n) <= s.max) && n >= -(1<<53) && n <= 1<<53
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil || math.IsInf(f, 0) {
		return false
	}
	exact := frac < 0 || len(bytes.Trim(lit[frac+1:], "0")) == 0
	if s.hasMin && (f < s.min || (f == s.min && !exact)) {
		return false
	}
	if s.hasMax && (f > s.max || (f == s.max && !exact)) {
		return false
	}
	return true
}

// fastCheck validates a plain document as an event of a known type and
// returns the spans of the envelope's properties. ok false means "not
// sure", not "invalid".
func fastCheck(raw []byte, spans *[10][2]int) (typ string, ok bool) {
	if fastEnvelope == nil {
		return "", false
	}
	p := fastParser{raw: raw}
	p.space()
	sp := spans[:len(fastEnvelope.props)]
	if len(fastEnvelope.props) > len(spans) || !fastEnvelope.object(&p, sp) {
		return "", false
	}
	p.space()
	if p.i != len(raw) {
		return "", false
	}
	t := sp[envIdx.typ]
	typ = string(raw[t[0]+1 : t[1]-1])
	data, known := fastData[typ]
	if !known {
		return "", false
	}
	d := sp[envIdx.data]
	dp := fastParser{raw: raw[:d[1]], i: d[0]}
	if !data.object(&dp, nil) || dp.i != d[1] {
		return "", false
	}
	if ds := sp[envIdx.dataschema]; ds[1] > ds[0] && string(raw[ds[0]+1:ds[1]-1]) != schemaURL(typ) {
		return "", false
	}
	return typ, true
}

// decodeFast is Decode for a plain document that fastCheck accepts:
// the envelope is filled from the spans, as encoding/json would fill it,
// when no envelope string holds an escape.
func decodeFast(raw []byte) (Envelope, bool) {
	var spans [10][2]int
	typ, ok := fastCheck(raw, &spans)
	if !ok {
		return Envelope{}, false
	}
	var env Envelope
	str := func(i int, dst *string) bool {
		sp := spans[i]
		if sp[1] == 0 {
			return true // absent
		}
		content := raw[sp[0]+1 : sp[1]-1]
		if bytes.IndexByte(content, '\\') >= 0 {
			return false
		}
		*dst = string(content)
		return true
	}
	var tm string
	if !str(envIdx.specversion, &env.SpecVersion) || !str(envIdx.id, &env.ID) || !str(envIdx.source, &env.Source) ||
		!str(envIdx.time, &tm) || !str(envIdx.subject, &env.Subject) || !str(envIdx.datacontenttype, &env.DataContentType) ||
		!str(envIdx.dataschema, &env.DataSchema) || !str(envIdx.traceparent, &env.TraceParent) {
		// An escaped attribute: let encoding/json unescape it.
		if err := json.Unmarshal(raw, &env); err != nil {
			return Envelope{}, false
		}
		return env, true
	}
	env.Type = typ
	if err := env.Time.UnmarshalText([]byte(tm)); err != nil {
		return Envelope{}, false
	}
	d := spans[envIdx.data]
	env.Data = bytes.Clone(raw[d[0]:d[1]])
	return env, true
}

// validFast reports whether a plain document is surely an event of a
// known type that Decode accepts.
func validFast(raw []byte) bool {
	var spans [10][2]int
	_, ok := fastCheck(raw, &spans)
	return ok
}

// validDataFast reports whether data is surely valid data of typ.
func validDataFast(typ string, data []byte) bool {
	s, ok := fastData[typ]
	if !ok || !plainOK(data) {
		return false
	}
	p := fastParser{raw: data}
	p.space()
	if !s.object(&p, nil) {
		return false
	}
	p.space()
	return p.i == len(data)
}

// marshalEnvelope is json.Marshal(env), byte for byte (FuzzMarshalEnvelope),
// without encoding/json's second pass over the data: a RawMessage is
// compacted and HTML-escaped again as it is copied, and the data of an
// event ghostwriter builds is already both. Data that is not (plainOK
// fails, or it holds whitespace between tokens, <, >, &, U+2028 or
// U+2029) goes through json.Marshal.
//
// plain reports that the result is surely plainOK, so Encode need not
// scan it again: the data was scanned as the envelope's property, and
// what encoding/json writes for the head is plain (valid UTF-8, fixed
// ASCII keys distinct from "data" in any case, no surrogate escapes, no
// numbers); only the size is left to check (FuzzMarshalEnvelope checks
// the claim).
func marshalEnvelope(env Envelope) (b []byte, plain bool, err error) {
	if !plainOKAt(env.Data, 1) || !compactEscaped(env.Data) {
		b, err = json.Marshal(env)
		return b, false, err
	}
	// The envelope without its data ends in the data field, last in
	// Envelope: cut its null and append the data instead.
	head := env
	head.Data = nil
	h, err := json.Marshal(head)
	if err != nil {
		return nil, false, err
	}
	h = h[:len(h)-len(`null}`)]
	b = make([]byte, 0, len(h)+len(env.Data)+1)
	b = append(b, h...)
	b = append(b, env.Data...)
	b = append(b, '}')
	return b, len(b) <= MaxEventBytes, nil
}

// compactEscaped reports whether json.Compact with HTML escaping would
// leave valid JSON raw unchanged.
func compactEscaped(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			inString = !inString
		case '\\':
			i++ // an escape inside a string: skip the escaped byte
		case ' ', '\t', '\n', '\r':
			if !inString {
				return false
			}
		case '<', '>', '&':
			return false
		case 0xE2:
			if i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9) {
				return false
			}
		}
	}
	return true
}

// FastSchema is a JSON Schema compiled for a one-pass check, as Decode
// checks events: prompts use it for a model's answer before the JSON
// Schema validator. Safe for concurrent use.
type FastSchema struct{ s *fastSchema }

// CompileFast compiles a JSON Schema document for Valid. It returns nil
// when the schema uses a keyword the fast path does not know (see
// compileFast); a nil *FastSchema is valid and never sure.
func CompileFast(schema []byte) *FastSchema {
	var doc any
	if err := json.Unmarshal(schema, &doc); err != nil {
		return nil
	}
	s, err := compileFast(doc)
	if err != nil {
		return nil
	}
	return &FastSchema{s: s}
}

// Valid reports whether doc is surely valid against the schema: a plain
// document (the size, UTF-8, duplicate-key and number rules of Decode)
// whose values the one-pass check accepts. false means "not sure", not
// invalid: check doc with the JSON Schema validator then.
func (f *FastSchema) Valid(doc []byte) bool {
	if f == nil || !plainOK(doc) {
		return false
	}
	p := fastParser{raw: doc}
	p.space()
	if !f.s.value(&p, nil) {
		return false
	}
	p.space()
	return p.i == len(doc)
}

// decodeTicketFast is json.Unmarshal(data, t) for plain data whose keys
// are all fields of TicketCreated, written as their tags, with string
// values: the ticket.created the worker decodes for every delivery. It
// reports false, having set some fields or none, for anything else;
// json.Unmarshal then sets them all again.
func decodeTicketFast(data []byte, t *TicketCreated) bool {
	if !plainOK(data) {
		return false
	}
	p := fastParser{raw: data}
	p.space()
	if p.peek() != '{' {
		return false
	}
	p.i++
	p.space()
	if p.peek() == '}' {
		return true
	}
	for {
		key, escaped, ok := p.str()
		if !ok || escaped {
			return false
		}
		var dst *string
		switch string(key) {
		case "ticket_id":
			dst = &t.TicketID
		case "tenant_id":
			dst = &t.TenantID
		case "body":
			dst = &t.Body
		case "subject":
			dst = &t.Subject
		case "customer_tier":
			dst = &t.CustomerTier
		case "product_area":
			dst = &t.ProductArea
		case "language":
			dst = &t.Language
		case "channel":
			dst = &t.Channel
		default:
			return false
		}
		p.space()
		if p.peek() != ':' {
			return false
		}
		p.i++
		p.space()
		content, escaped, ok := p.str()
		if !ok {
			return false
		}
		if !escaped {
			*dst = string(content)
		} else if *dst, ok = unescape(content); !ok {
			return false
		}
		p.space()
		switch p.peek() {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			p.space()
			return p.i == len(data)
		default:
			return false
		}
	}
}

// unescape decodes the content of a JSON string that plainOK accepted
// (valid UTF-8, no surrogate escapes) as encoding/json does.
func unescape(content []byte) (string, bool) {
	b := make([]byte, 0, len(content))
	for i := 0; i < len(content); i++ {
		c := content[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i+1 >= len(content) {
			return "", false
		}
		i++
		switch content[i] {
		case '"', '\\', '/':
			b = append(b, content[i])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(content[i+1:])
			if !ok || (r >= 0xD800 && r <= 0xDFFF) {
				return "", false
			}
			b = utf8.AppendRune(b, r)
			i += 4
		default:
			return "", false
		}
	}
	return string(b), true
}
