package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The kinds of value a Masker replaces, in the order it looks for them: a
// value found by an earlier kind is not looked at again by a later one.
var maskKinds = []string{"SECRET", "EMAIL", "CARD", "IBAN", "IP", "PHONE"}

// Masker replaces personal data and secrets in ticket text with numbered
// placeholders ([EMAIL_1], [CARD_2], …) before the text reaches a model, and
// puts the raw values back into the model's draft.
//
// One Masker serves one task: call Mask on every field the prompt will
// hold (subject, body), then Unmask on the draft. The same raw value gets
// the same placeholder in every field. A Masker is not safe for
// concurrent use. The zero value is not usable: Mask and Unmask panic on
// it; use NewMasker.
//
// A Masker never shows a raw value through fmt or slog: String, GoString,
// Format and LogValue print only how many values of each kind it holds.
type Masker struct {
	st *maskState
}

type maskState struct {
	byRaw   map[string]string // raw value → placeholder
	byTok   map[string]string // placeholder → raw value
	counts  map[string]int    // kind → distinct values
	sweep   []string          // raw values of 6 runes or more, longest first
	sweeper *strings.Replacer // replaces sweep values; nil when sweep changed
}

// NewMasker returns an empty Masker.
func NewMasker() *Masker {
	return &Masker{st: &maskState{
		byRaw:  map[string]string{},
		byTok:  map[string]string{},
		counts: map[string]int{},
	}}
}

// Mask returns text with every value it recognises replaced by a
// placeholder, looking for, in this order:
//
//   - SECRET: API keys and tokens (sk-…, sk_live_…, ghp_…, github_pat_…,
//     xox[bp]-…, AKIA…, AIza…, glpat-…, JWTs), Bearer tokens, the value of
//     "password: X" / "Passwort: X" / "mot de passe : X" / "contraseña: X"
//     (X of six characters or more that is not a plain word), of "api_key=X"
//     and its kin, and of PIN, CVV and security codes;
//   - EMAIL: e-mail addresses;
//   - CARD: payment card numbers of 13 to 19 digits, with or without spaces
//     or dashes, starting with 2 to 6 and passing the Luhn check;
//   - IBAN: IBANs of a known country and length, with or without spaces,
//     passing the mod-97 check;
//   - IP: IPv4 and IPv6 addresses that net/netip accepts, except loopback,
//     unspecified and 255.x masks, and four-part version numbers;
//   - PHONE: +CC and 00CC international numbers, national numbers with a
//     trunk 0, North American numbers, and any 7 to 15 digit number right
//     after a word like "phone", "tel" or "mobile"; never a date, a number
//     glued to letters, "#", "-" or "." (order ids, invoice numbers, versions,
//     tracking numbers), nor a price.
//
// Text that already looks like a placeholder is left alone. Finally, every
// raw value of six runes or more that this Masker has replaced, in this
// call or an earlier one, is replaced wherever else it appears, so a
// password repeated without its label is masked too.
func (m *Masker) Mask(text string) string {
	st := m.st
	if st == nil {
		panic("pipeline: Masker used without NewMasker")
	}
	for _, k := range maskKinds {
		find := finders[k]
		text = eachSpan(text, func(s string) string {
			return st.replace(s, k, find(s))
		})
	}
	if len(st.sweep) > 0 {
		text = eachSpan(text, st.sweepSpan)
	}
	return text
}

// placeholderRE matches anything shaped like a placeholder, in any case:
// ours, and ones a model may invent.
var placeholderRE = regexp.MustCompile(`(?i)\[[a-z][a-z0-9]*_[0-9]+\]`)

// eachSpan applies fn to the parts of text between placeholders.
func eachSpan(text string, fn func(string) string) string {
	first := strings.IndexByte(text, '[')
	if first < 0 {
		return fn(text) // no placeholder without its opening bracket
	}
	var b strings.Builder
	prev := 0
	for i := first; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		end := placeholderEnd(text, i)
		if end < 0 {
			continue
		}
		if prev == 0 {
			b.Grow(len(text))
		}
		b.WriteString(fn(text[prev:i]))
		b.WriteString(text[i:end])
		prev = end
		i = end - 1
	}
	if prev == 0 {
		return fn(text)
	}
	b.WriteString(fn(text[prev:]))
	return b.String()
}

// placeholderEnd returns where the placeholder that placeholderRE matches
// at text[i] ("[") ends, or -1 when none starts there. The expression has
// one way to match at a place, with no choice to back out of, so walking
// it by hand finds the same match: under (?i), [a-z] is also A-Z, the long
// s (ſ) and the Kelvin sign (K).
func placeholderEnd(text string, i int) int {
	j := i + 1
	n := placeholderRune(text[j:], false)
	if n == 0 {
		return -1
	}
	for j += n; n > 0; j += n {
		n = placeholderRune(text[j:], true)
	}
	if j >= len(text) || text[j] != '_' {
		return -1
	}
	j++
	d := j
	for j < len(text) && isDigit(text[j]) {
		j++
	}
	if j == d || j >= len(text) || text[j] != ']' {
		return -1
	}
	return j + 1
}

// placeholderRune returns the length of the rune s opens with when it is
// a letter of (?i)[a-z] (or a digit, with digits), else 0.
func placeholderRune(s string, digits bool) int {
	switch {
	case s == "":
		return 0
	case 'a' <= s[0]|0x20 && s[0]|0x20 <= 'z', digits && isDigit(s[0]):
		return 1
	case strings.HasPrefix(s, "\u017f"):
		return len("\u017f")
	case strings.HasPrefix(s, "\u212a"):
		return len("\u212a")
	}
	return 0
}

// replace swaps the spans of s, sorted and disjoint, for placeholders.
func (st *maskState) replace(s, kind string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := 0
	for _, sp := range spans {
		b.WriteString(s[prev:sp[0]])
		b.WriteString(st.placeholder(kind, s[sp[0]:sp[1]]))
		prev = sp[1]
	}
	b.WriteString(s[prev:])
	return b.String()
}

func (st *maskState) placeholder(kind, raw string) string {
	if p, ok := st.byRaw[raw]; ok {
		return p
	}
	st.counts[kind]++
	p := "[" + kind + "_" + strconv.Itoa(st.counts[kind]) + "]"
	st.byRaw[raw] = p
	st.byTok[p] = raw
	if utf8.RuneCountInString(raw) >= 6 {
		i, _ := slices.BinarySearchFunc(st.sweep, raw, func(a, b string) int { return len(b) - len(a) })
		st.sweep = slices.Insert(st.sweep, i, raw)
		st.sweeper = nil
	}
	return p
}

// sweepSpan replaces every raw value of the sweep list in one pass, the
// longest first where several start at the same place; it never looks
// into a placeholder it wrote.
func (st *maskState) sweepSpan(s string) string {
	if st.sweeper == nil {
		pairs := make([]string, 0, 2*len(st.sweep))
		for _, raw := range st.sweep {
			pairs = append(pairs, raw, st.byRaw[raw])
		}
		st.sweeper = strings.NewReplacer(pairs...)
	}
	return st.sweeper.Replace(s)
}

// Unmask puts the raw values back in place of the placeholders this Masker
// issued. review is true when the draft holds a placeholder-shaped token
// this Masker never issued (left as it is), or holds a raw value outside a
// placeholder: either way a person should read the draft before it goes
// out. Unmask does not change the Masker.
func (m *Masker) Unmask(draft string) (restored string, review bool) {
	st := m.st
	if st == nil {
		panic("pipeline: Masker used without NewMasker")
	}
	// "[]" stands for the placeholders: no raw value holds a bracket, so
	// none can match across one.
	outside := placeholderRE.ReplaceAllString(draft, "[]")
	for raw := range st.byRaw {
		if containsValue(outside, raw) {
			review = true
			break
		}
	}
	restored = placeholderRE.ReplaceAllStringFunc(draft, func(tok string) string {
		if raw, ok := st.byTok[tok]; ok {
			return raw
		}
		review = true
		return tok
	})
	return restored, review
}

// containsValue reports raw in s; a short raw value (a PIN, a CVV) counts
// only as a whole token, not inside a longer number or word.
func containsValue(s, raw string) bool {
	if utf8.RuneCountInString(raw) >= 6 {
		return strings.Contains(s, raw)
	}
	for i := 0; ; {
		j := strings.Index(s[i:], raw)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(raw)
		if !wordRuneBefore(s, start) && !wordRuneAt(s, end) {
			return true
		}
		i = start + 1
	}
}

// Counts returns, for each kind (SECRET, EMAIL, CARD, IBAN, IP, PHONE), how
// many distinct values the Masker holds; kinds with none are absent.
func (m *Masker) Counts() map[string]int {
	out := map[string]int{}
	if m == nil || m.st == nil {
		return out
	}
	for k, n := range m.st.counts {
		if n > 0 {
			out[k] = n
		}
	}
	return out
}

// String prints the counts only, e.g. masker{EMAIL:2 CARD:1}.
func (m Masker) String() string {
	var b strings.Builder
	b.WriteString("masker{")
	first := true
	if m.st != nil {
		for _, k := range maskKinds {
			if n := m.st.counts[k]; n > 0 {
				if !first {
					b.WriteByte(' ')
				}
				first = false
				fmt.Fprintf(&b, "%s:%d", k, n)
			}
		}
	}
	b.WriteByte('}')
	return b.String()
}

// GoString prints the counts only, as String does, so %#v shows no value.
func (m Masker) GoString() string { return m.String() }

// Format prints the counts only, as String does, whatever the verb.
func (m Masker) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, m.String()) }

// LogValue is a group of the counts, keyed by lower-case kind.
func (m Masker) LogValue() slog.Value {
	var attrs []slog.Attr
	if m.st != nil {
		for _, k := range maskKinds {
			if n := m.st.counts[k]; n > 0 {
				attrs = append(attrs, slog.Int(strings.ToLower(k), n))
			}
		}
	}
	return slog.GroupValue(attrs...)
}

// finders find the raw values of each kind in a text, as sorted disjoint
// byte spans.
var finders = map[string]func(string) [][2]int{
	"SECRET": findSecrets,
	"EMAIL":  findEmails,
	"CARD":   findCards,
	"IBAN":   findIBANs,
	"IP":     findIPs,
	"PHONE":  findPhones,
}

func wordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func wordRuneBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return i > 0 && wordRune(r)
}

func wordRuneAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return i < len(s) && wordRune(r)
}

// gluedBefore reports a value that continues an identifier on its left: a
// letter, digit or underscore, "#" or a currency sign, or a "-", ".", "/"
// or ":" after a letter or digit.
func gluedBefore(s string, i int) bool {
	if i == 0 {
		return false
	}
	c, size := utf8.DecodeLastRuneInString(s[:i])
	switch c {
	case '#', '$', '€', '£':
		return true
	case '-', '.', '/', ':':
		return wordRuneBefore(s, i-size)
	}
	return wordRune(c)
}

// gluedAfter reports a value that continues on its right: a letter, digit
// or underscore, or a "-", "." or "/" followed by one.
func gluedAfter(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	switch s[i] {
	case '-', '.', '/':
		return wordRuneAt(s, i+1)
	}
	return wordRuneAt(s, i)
}

// addSpans merges new spans into sorted disjoint spans; on overlap the
// span already there wins.
func addSpans(spans [][2]int, add ...[2]int) [][2]int {
	for _, a := range add {
		ok := true
		for _, sp := range spans {
			if a[0] < sp[1] && sp[0] < a[1] {
				ok = false
				break
			}
		}
		if ok {
			spans = append(spans, a)
		}
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	return spans
}

// The secret expressions, each after the \b it opens with; tokenRE and
// the others are \b and these, and are found through headRE (see there).
const (
	tokenExpr = `(?:` +
		`sk-(?:proj-|ant-|live-|test-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}` +
		`|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}` +
		`|gh[pousr]_[A-Za-z0-9]{20,}` +
		`|github_pat_[A-Za-z0-9_]{22,}` +
		`|glpat-[A-Za-z0-9_\-]{20,}` +
		`|xox[abposr]-[A-Za-z0-9\-]{10,}` +
		`|(?:AKIA|ASIA)[0-9A-Z]{16}\b` +
		`|AIza[0-9A-Za-z_\-]{35}` +
		`|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}` +
		`)`
	bearerExpr   = `bearer\s+([A-Za-z0-9\-._~+/]{16,}=*)`
	passwordExpr = `(?:password|passwort|kennwort|mot de passe|contraseña|senha|passcode|pwd)\s*(?:is|ist|est|es|é|:|=|:=)\s*["'“„«‘]?([^\s"'”“«»‘’\[\]]{6,})`
	keyValueExpr = `(?:api[_ -]?key|api[_ -]?token|access[_ -]?token|auth[_ -]?token|client[_ -]?secret|secret[_ -]?key|secret|token)\s*[:=]\s*["']?([A-Za-z0-9_\-./+=]{12,})`
	pinExpr      = `(?:pin(?: code| number)?|cvv2?|cvc2?|csc|security code|sicherheitscode|prüfnummer|cryptogramme|código de seguridad)\s*(?:is|ist|est|es|:|=|#)?\s*(\d{3,8})\b`
)

// Literal parts that each secret expression's matches start with: the
// first of each alternative (tokenRE is case-sensitive, the others fold
// case).
var (
	tokenKeys    = []string{"sk-", "sk_", "pk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "AKIA", "ASIA", "AIza", "eyJ"}
	passwordKeys = []string{"pass", "kennwort", "mot de passe", "contraseña", "senha", "pwd"}
	keyValueKeys = []string{"api", "access", "auth", "client", "secret", "token"}
	pinKeys      = []string{"pin", "cvv", "cvc", "csc", "security code", "sicherheitscode", "prüfnummer", "cryptogramme", "código de seguridad"}

	tokenRE    = newHeadRE(``, tokenExpr, tokenKeys...)
	bearerRE   = newHeadRE(`(?i)`, bearerExpr, "bearer")
	passwordRE = newHeadRE(`(?i)`, passwordExpr, passwordKeys...)
	keyValueRE = newHeadRE(`(?i)`, keyValueExpr, keyValueKeys...)
	pinRE      = newHeadRE(`(?i)`, pinExpr, pinKeys...)
)

// passwordLike reports a value that is not a plain word: it has a digit,
// a symbol, or a capital after its first letter. "password: expired" is
// not a password.
func passwordLike(v string) bool {
	if strings.Trim(v, "*•x.") == "" {
		return false // already hidden
	}
	for i, c := range v {
		if !unicode.IsLetter(c) || (i > 0 && unicode.IsUpper(c)) {
			return true
		}
	}
	return false
}

func randomLike(v string) bool {
	return strings.ContainsAny(v, "0123456789") && strings.IndexFunc(v, unicode.IsLetter) >= 0
}

// secretHeads finds the heads of the secret expressions in one pass.
var secretHeads = newHeadScanner(tokenRE, bearerRE, passwordRE, keyValueRE, pinRE)

func findSecrets(s string) [][2]int {
	var buf [32]headAt
	at := secretHeads.scan(s, buf[:0])
	if len(at) == 0 {
		return nil
	}
	var spans [][2]int
	for _, m := range tokenRE.findAllAt(s, at, 1<<0) {
		spans = addSpans(spans, [2]int{m[0], m[1]})
	}
	for _, m := range bearerRE.findAllAt(s, at, 1<<1) {
		spans = addSpans(spans, [2]int{m[2], m[3]})
	}
	for _, m := range passwordRE.findAllAt(s, at, 1<<2) {
		v := strings.TrimRight(s[m[2]:m[3]], ".,;:)")
		if utf8.RuneCountInString(v) >= 6 && passwordLike(v) {
			spans = addSpans(spans, [2]int{m[2], m[2] + len(v)})
		}
	}
	for _, m := range keyValueRE.findAllAt(s, at, 1<<3) {
		v := strings.TrimRight(s[m[2]:m[3]], ".")
		if randomLike(v) {
			spans = addSpans(spans, [2]int{m[2], m[2] + len(v)})
		}
	}
	for _, m := range pinRE.findAllAt(s, at, 1<<4) {
		spans = addSpans(spans, [2]int{m[2], m[3]})
	}
	return spans
}

var emailRE = regexp.MustCompile(`[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?)*\.\p{L}{2,24}`)

func findEmails(s string) [][2]int {
	var spans [][2]int
	for from := 0; ; {
		a := strings.IndexByte(s[from:], '@')
		if a < 0 {
			break
		}
		a += from
		q, e := emailWindow(s, from, a)
		m := emailRE.FindStringIndex(s[q:e])
		if m == nil {
			from = a + 1
			continue
		}
		start, end := q+m[0], q+m[1]
		from = end
		for start < end && s[start] == '.' {
			start++
		}
		if wordRuneAt(s, end) {
			continue // a top-level domain glued to more letters or digits
		}
		spans = append(spans, [2]int{start, end})
	}
	return spans
}

// emailWindow returns the stretch s[q:e] around the "@" at a, q >= from,
// that holds every match of emailRE through that "@" and no other match:
// the expression's local part and domain are runs of letters, digits and
// a few signs, so no match crosses an ASCII byte outside them, and it has
// no assertion that looks outside the match. Running it on the window
// finds what FindAllStringIndex finds from the same place on, without
// stepping through the rest of the text.
func emailWindow(s string, from, a int) (q, e int) {
	q = a
	for q > from && (s[q-1] >= utf8.RuneSelf || emailLocalBytes[s[q-1]]) {
		q--
	}
	e = a + 1
	for e < len(s) && (s[e] >= utf8.RuneSelf || emailDomainBytes[s[e]]) {
		e++
	}
	return q, e
}

// The ASCII bytes of an address's local part and of its domain.
var emailLocalBytes, emailDomainBytes = byteClass(func(c byte) bool { return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0 }),
	byteClass(func(c byte) bool { return isAlnum(c) || c == '.' || c == '-' })

func isAlnum(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z' }

// digitRuns finds digits in groups joined by one space or dash, in runs of
// digits, spaces and dashes of at least minLen bytes.
func digitRuns(s string, minLen int) [][2]int {
	var out [][2]int
	for r0, r1 := range byteRuns(s, &digitBytes, &groupBytes) {
		if r1-r0 < minLen {
			continue // its groups are shorter still
		}
		// cut at a double separator and drop trailing ones
		start := r0
		for i := r0; i < r1; i++ {
			if !isDigit(s[i]) && (i+1 >= r1 || !isDigit(s[i+1])) {
				out = append(out, [2]int{start, i})
				for i < r1 && !isDigit(s[i]) {
					i++
				}
				start = i
			}
		}
		if start < r1 {
			out = append(out, [2]int{start, r1})
		}
	}
	return out
}

var groupBytes = byteClass(func(c byte) bool { return isDigit(c) || c == ' ' || c == '-' })

// findCards looks, in every run of digit groups, for the leftmost and then
// longest whole-group stretch of 13 to 19 digits that starts with 2 to 6
// and passes the Luhn check.
func findCards(s string) [][2]int {
	var spans [][2]int
	for _, run := range digitRuns(s, 13) {
		if run[1]-run[0] < 13 {
			continue
		}
		groups := digitGroups(s, run[0], run[1])
		for i := 0; i < len(groups); {
			// the last group a card starting at group i could reach
			last, digits := i, 0
			for last < len(groups) && digits+groups[last][1]-groups[last][0] <= 19 {
				digits += groups[last][1] - groups[last][0]
				last++
			}
			found := -1
			for j := last - 1; j >= i && found < 0; j-- {
				start, end := groups[i][0], groups[j][1]
				if (i == 0 && gluedBefore(s, start)) || (j == len(groups)-1 && gluedAfter(s, end)) {
					continue
				}
				if cardNumber(s[start:end]) {
					spans = append(spans, [2]int{start, end})
					found = j
				}
			}
			if found >= 0 {
				i = found + 1
			} else {
				i++
			}
		}
	}
	return spans
}

// digitGroups splits s[start:end], a run of digit groups, into the groups.
func digitGroups(s string, start, end int) [][2]int {
	var gs [][2]int
	g := start
	for i := start; i < end; i++ {
		if s[i] == ' ' || s[i] == '-' {
			gs = append(gs, [2]int{g, i})
			g = i + 1
		}
	}
	return append(gs, [2]int{g, end})
}

func cardNumber(v string) bool {
	var d []byte
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			d = append(d, v[i]-'0')
		}
	}
	if len(d) < 13 || len(d) > 19 || d[0] < 2 || d[0] > 6 {
		return false
	}
	return luhn(d)
}

func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i])
		if (len(d)-1-i)%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// ibanLengths is the IBAN length of each country that has one.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
	"BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
	"DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
	"GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
	"IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
	"LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
	"SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
	"TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// ibanStarts returns where a country code and two check digits begin a
// word.
func ibanStarts(s string) []int {
	var out []int
	for i := 0; i+4 <= len(s); i++ {
		if isUpper(s[i]) && isUpper(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) && !wordRuneBefore(s, i) {
			out = append(out, i)
		}
	}
	return out
}

// findIBANs reads, from each country code and check digits, exactly the
// country's length of letters and digits (single spaces allowed between
// them) and keeps it when it ends at a word boundary and passes mod 97.
func findIBANs(s string) [][2]int {
	var spans [][2]int
	next := 0
	for _, start := range ibanStarts(s) {
		if start < next {
			continue
		}
		n, ok := ibanLengths[s[start:start+2]]
		if !ok {
			continue
		}
		var chars []byte
		end := start
		for i := start; i < len(s) && len(chars) < n; i++ {
			c := s[i]
			switch {
			case c >= '0' && c <= '9' || c >= 'A' && c <= 'Z':
				chars = append(chars, c)
				end = i + 1
			case c == ' ' && i+1 < len(s) && s[i+1] != ' ' && len(chars) > 0:
			default:
				i = len(s)
			}
		}
		if len(chars) != n || wordRuneAt(s, end) || !ibanValid(chars) {
			continue
		}
		spans = append(spans, [2]int{start, end})
		next = end
	}
	return spans
}

func ibanValid(chars []byte) bool {
	rearranged := append(append([]byte{}, chars[4:]...), chars[:4]...)
	rem := 0
	for _, c := range rearranged {
		if c >= 'A' && c <= 'Z' {
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem == 1
}

var versionWord = regexp.MustCompile(`(?i)(?:version|ver\.?|build|release|firmware|v)\s*$`)

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func findIPs(s string) [][2]int {
	var six, four [][2]int
	if strings.Count(s, ":") >= 2 {
		for start, end := range byteRuns(s, &sixBytes, &sixBytes) {
			if strings.Count(s[start:end], ":") < 2 {
				continue // trimmed, the run would hold fewer still
			}
			for end > start && (s[end-1] == ':' || s[end-1] == '.') {
				end--
			}
			for start < end && s[start] == '.' {
				start++
			}
			if wordRuneBefore(s, start) || wordRuneAt(s, end) {
				continue
			}
			v := s[start:end]
			if strings.Count(v, ":") < 2 || hexGroups(v) < 2 {
				continue
			}
			a, err := netip.ParseAddr(v)
			if err != nil || !a.Is6() || a.IsLoopback() || a.IsUnspecified() {
				continue
			}
			six = append(six, [2]int{start, end})
		}
	}
	if strings.Count(s, ".") >= 3 {
		for start, end := range byteRuns(s, &digitBytes, &fourBytes) {
			if strings.Count(s[start:end], ".") < 3 {
				continue // trimmed, the run would hold fewer still
			}
			for s[end-1] == '.' {
				end-- // a full stop after the address
			}
			v := s[start:end]
			if strings.Count(v, ".") != 3 || wordRuneBefore(s, start) || wordRuneAt(s, end) {
				continue
			}
			if start > 0 && s[start-1] == '.' {
				continue // part of a longer dotted number
			}
			if versionWord.MatchString(s[max(0, start-12):start]) {
				continue
			}
			a, err := netip.ParseAddr(v)
			if err != nil || a.IsLoopback() || a.IsUnspecified() || a.As4()[0] == 255 {
				continue
			}
			four = append(four, [2]int{start, end})
		}
	}
	return mergeSpans(six, four)
}

// Byte classes of the address runs: IPv6 (hex digits, colons, dots), and
// IPv4 (digits, then digits and dots).
var sixBytes, digitBytes, fourBytes = byteClass(func(c byte) bool { return isHex(c) || c == ':' || c == '.' }),
	byteClass(isDigit), byteClass(func(c byte) bool { return isDigit(c) || c == '.' })

func byteClass(in func(byte) bool) (t [256]bool) {
	for c := range 256 {
		t[c] = in(byte(c))
	}
	return t
}

// byteRuns yields the maximal stretches of s whose bytes are in, that
// start with a byte in first, as byte offsets, one at a time: without a
// slice of them or a call per byte, since most words hold a hex digit and
// so make an IPv6 run.
func byteRuns(s string, first, in *[256]bool) func(yield func(int, int) bool) {
	return func(yield func(int, int) bool) {
		for i := 0; i < len(s); i++ {
			if !first[s[i]] {
				continue
			}
			j := i + 1
			for j < len(s) && in[s[j]] {
				j++
			}
			if !yield(i, j) {
				return
			}
			i = j
		}
	}
}

// mergeSpans merges two sorted lists of disjoint spans; where a span of
// b overlaps one of a, a wins.
func mergeSpans(a, b [][2]int) [][2]int {
	if len(b) == 0 {
		return a
	}
	out := make([][2]int, 0, len(a)+len(b))
	free := func(sp [2]int) bool { return len(out) == 0 || sp[0] >= out[len(out)-1][1] }
	j := 0
	for _, sp := range a {
		for ; j < len(b) && b[j][0] < sp[0]; j++ {
			if b[j][1] <= sp[0] && free(b[j]) {
				out = append(out, b[j])
			}
		}
		out = append(out, sp)
	}
	for ; j < len(b); j++ {
		if free(b[j]) {
			out = append(out, b[j])
		}
	}
	return out
}

func hexGroups(v string) int {
	n := 0
	for _, g := range strings.Split(v, ":") {
		if g != "" {
			n++
		}
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

var (
	dateRE      = regexp.MustCompile(`^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$`)
	nanpRE      = regexp.MustCompile(`^(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}$`)
	phoneWordRE = regexp.MustCompile(`(?i)(?:phone|tel|telephone|mobile|mob|cell|fax|call|handy|telefon|téléphone|tél|portable|teléfono|móvil|celular|whatsapp|sms)\b[^0-9\n]{0,15}$`)
)

func findPhones(s string) [][2]int {
	var spans [][2]int
	for _, start := range phoneStarts(s) {
		end := start + 1
		for end < len(s) && end-start < 26 && phoneByte(s[end]) {
			end++
		}
		for end > start && !isDigit(s[end-1]) {
			end--
		}
		v := s[start:end]
		if len(v) < 7 {
			continue
		}
		digits := 0
		for i := 0; i < len(v); i++ {
			if isDigit(v[i]) {
				digits++
			}
		}
		if digits < 7 || digits > 15 || gluedBefore(s, start) || gluedAfter(s, end) {
			continue
		}
		if strings.Contains(v, "  ") || strings.Contains(v, "--") || strings.Contains(v, "..") || strings.Contains(v, "//") {
			continue
		}
		if dateRE.MatchString(v) {
			continue
		}
		if phoneNumber(v, digits) || phoneWordRE.MatchString(s[max(0, start-30):start]) {
			spans = append(spans, [2]int{start, end})
		}
	}
	return spans
}

func phoneByte(c byte) bool {
	return isDigit(c) || c == ' ' || c == '(' || c == ')' || c == '.' || c == '-' || c == '/'
}

// phoneStarts returns where candidate phone numbers begin: a digit, "+" or
// "(" before a digit, not inside a run of phone characters.
func phoneStarts(s string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && !((c == '+' || c == '(') && i+1 < len(s) && isDigit(s[i+1])) {
			continue
		}
		out = append(out, i)
		// skip the rest of this run of phone characters
		j := i + 1
		for j < len(s) && j-i < 26 && phoneByte(s[j]) {
			j++
		}
		for j > i+1 && !isDigit(s[j-1]) {
			j--
		}
		i = j - 1
	}
	return out
}

// phoneNumber reports the shapes of a phone number that need no label.
func phoneNumber(v string, digits int) bool {
	switch {
	case v[0] == '+':
		return digits >= 8 && v[1] != '0'
	case strings.HasPrefix(v, "00"):
		return digits >= 10 && v[2] != '0'
	case v[0] == '0' || strings.HasPrefix(v, "(0"):
		return digits >= 9 && digits <= 12 && strings.ContainsAny(v, " -/()")
	}
	return digits == 10 && nanpRE.MatchString(v)
}
