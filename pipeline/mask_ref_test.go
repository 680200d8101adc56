package pipeline

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The finders below are the regexp-only versions that mask.go sped up,
// kept as they were to check the fast ones against.

var (
	refTokenRE = regexp.MustCompile(`\b(?:` +
		`sk-(?:proj-|ant-|live-|test-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}` +
		`|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}` +
		`|gh[pousr]_[A-Za-z0-9]{20,}` +
		`|github_pat_[A-Za-z0-9_]{22,}` +
		`|glpat-[A-Za-z0-9_\-]{20,}` +
		`|xox[abposr]-[A-Za-z0-9\-]{10,}` +
		`|(?:AKIA|ASIA)[0-9A-Z]{16}\b` +
		`|AIza[0-9A-Za-z_\-]{35}` +
		`|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}` +
		`)`)
	refBearerRE   = regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)`)
	refPasswordRE = regexp.MustCompile(`(?i)\b(?:password|passwort|kennwort|mot de passe|contraseña|senha|passcode|pwd)\s*(?:is|ist|est|es|é|:|=|:=)\s*["'“„«‘]?([^\s"'”“«»‘’\[\]]{6,})`)
	refKeyValueRE = regexp.MustCompile(`(?i)\b(?:api[_ -]?key|api[_ -]?token|access[_ -]?token|auth[_ -]?token|client[_ -]?secret|secret[_ -]?key|secret|token)\s*[:=]\s*["']?([A-Za-z0-9_\-./+=]{12,})`)
	refPinRE      = regexp.MustCompile(`(?i)\b(?:pin(?: code| number)?|cvv2?|cvc2?|csc|security code|sicherheitscode|prüfnummer|cryptogramme|código de seguridad)\s*(?:is|ist|est|es|:|=|#)?\s*(\d{3,8})\b`)

	refTokenKeySet, refPasswordKeySet = newKeySet(tokenKeys), newKeySet(passwordKeys)
	refKeyValueKeySet, refPinKeySet   = newKeySet([]string{"key", "token", "secret"}), newKeySet(pinKeys)
)

func refEachSpan(text string, fn func(string) string) string {
	locs := placeholderRE.FindAllStringIndex(text, -1)
	if len(locs) == 0 {
		return fn(text)
	}
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, l := range locs {
		b.WriteString(fn(text[prev:l[0]]))
		b.WriteString(text[l[0]:l[1]])
		prev = l[1]
	}
	b.WriteString(fn(text[prev:]))
	return b.String()
}
func refFindSecrets(s string) [][2]int {
	var spans [][2]int
	if refTokenKeySet.has(s) {
		for _, m := range refTokenRE.FindAllStringIndex(s, -1) {
			spans = addSpans(spans, [2]int{m[0], m[1]})
		}
	}
	lower := strings.ToLower(s)
	if strings.ContainsRune(lower, 'ſ') {
		// The (?i) expressions below match the long s (U+017F) as s, as
		// Unicode case folding does; so must the pre-filters, or
		// "paſſword: …" would reach the model unmasked. (The Kelvin sign,
		// the other such rune, ToLower already makes a k.)
		lower = strings.ReplaceAll(lower, "ſ", "s")
	}
	if strings.Contains(lower, "bearer") {
		for _, m := range refBearerRE.FindAllStringSubmatchIndex(s, -1) {
			spans = addSpans(spans, [2]int{m[2], m[3]})
		}
	}
	if refPasswordKeySet.has(lower) {
		for _, m := range refPasswordRE.FindAllStringSubmatchIndex(s, -1) {
			v := strings.TrimRight(s[m[2]:m[3]], ".,;:)")
			if utf8.RuneCountInString(v) >= 6 && passwordLike(v) {
				spans = addSpans(spans, [2]int{m[2], m[2] + len(v)})
			}
		}
	}
	if refKeyValueKeySet.has(lower) {
		for _, m := range refKeyValueRE.FindAllStringSubmatchIndex(s, -1) {
			v := strings.TrimRight(s[m[2]:m[3]], ".")
			if randomLike(v) {
				spans = addSpans(spans, [2]int{m[2], m[2] + len(v)})
			}
		}
	}
	if refPinKeySet.has(lower) {
		for _, m := range refPinRE.FindAllStringSubmatchIndex(s, -1) {
			spans = addSpans(spans, [2]int{m[2], m[3]})
		}
	}
	return spans
}
func refRuns(s string, first, in func(byte) bool) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); i++ {
		if !first(s[i]) {
			continue
		}
		j := i + 1
		for j < len(s) && in(s[j]) {
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}
func refDigitRuns(s string) [][2]int {
	var out [][2]int
	for _, r := range refRuns(s, isDigit, func(c byte) bool { return isDigit(c) || c == ' ' || c == '-' }) {
		// cut at a double separator and drop trailing ones
		start := r[0]
		for i := r[0]; i < r[1]; i++ {
			if !isDigit(s[i]) && (i+1 >= r[1] || !isDigit(s[i+1])) {
				out = append(out, [2]int{start, i})
				for i < r[1] && !isDigit(s[i]) {
					i++
				}
				start = i
			}
		}
		if start < r[1] {
			out = append(out, [2]int{start, r[1]})
		}
	}
	return out
}
func refFindCards(s string) [][2]int {
	var spans [][2]int
	for _, run := range refDigitRuns(s) {
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
func refFindIPs(s string) [][2]int {
	var six, four [][2]int
	if strings.Count(s, ":") >= 2 {
		sixByte := func(c byte) bool { return isHex(c) || c == ':' || c == '.' }
		for _, r := range refRuns(s, sixByte, sixByte) {
			start, end := r[0], r[1]
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
		fourByte := func(c byte) bool { return isDigit(c) || c == '.' }
		for _, r := range refRuns(s, isDigit, fourByte) {
			start, end := r[0], r[1]
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

var refFinders = map[string]func(string) [][2]int{
	"SECRET": refFindSecrets,
	"EMAIL":  refFindEmails,
	"CARD":   refFindCards,
	"IBAN":   findIBANs,
	"IP":     refFindIPs,
	"PHONE":  findPhones,
}

// refMask is Mask with the reference finders.
func refMask(m *Masker, text string) string {
	st := m.st
	for _, k := range maskKinds {
		find := refFinders[k]
		text = refEachSpan(text, func(s string) string {
			return st.replace(s, k, find(s))
		})
	}
	if len(st.sweep) > 0 {
		text = refEachSpan(text, st.sweepSpan)
	}
	return text
}

// maskSeeds are texts that hold, or nearly hold, what Mask replaces.
func maskSeeds(t testing.TB) []string {
	seeds := []string{
		"password: Summer2024! then Summer2024!x and xSummer2024!",
		"my paſſword: Hunter22! and PASSWORT ist Geheim123, \u212aennwort: abcDEF12",
		"Mot de passe : Bonjour2025; contraseña: Hola#2025 senha=Abc12345 pwd:=xYz98765",
		"api_key=a1b2c3d4e5f6g7h8 ACCESS-TOKEN: 'abc123def456ghi' client secret = s3cr3t-v4lu3-xyz auth token:abcdefgh1234",
		"ſecret: abcdefgh12345 ſecurity code: 123 tokentoken=abc123abc123abc",
		"PIN: 1234, cvv2 is 123, CVC# 999, csc 1234, Security Code 5678, Sicherheitscode: 321, Prüfnummer 111, código de seguridad: 4444",
		"spin 1234 pinned pin1234 pin number is 98765 pin code: 55555",
		"Authorization: Bearer abcdef1234567890ABCDEF== bearer short",
		"sk-proj-abcdEFGH1234ijklMNOP5678qrst task-1234567890abcdefgh ghp_16C7e42F292c6912E7710c838347Ae178B4a xoxb-123456789012-abcdefGHIJKL",
		"AKIAIOSFODNN7EXAMPLE AIzaSyA-abcdefghijklmnopqrstuvwxyz012345 glpat-abcdefghij0123456789 github_pat_11ABCDEFG0123456789_abcdefghij",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U.",
		"4111 1111 1111 1111 12/29 +1 555 0100 DE89 3704 0044 0532 0130 00 5500-0000-0000-0004 1 2 3 4 5 6 7 8 9 0 1 2 3 4",
		"from 10.1.2.3 via fe80::1 and 2001:db8::ff00:42:8329, v1.2.3.4, 255.255.255.0, 127.0.0.1, ::1, 192.168.0.1.",
		"log 2025-03-04T10:14:00.025Z ERROR code=SYNC-4090 from 10.1.2.3 via fe80::1",
		"[EMAIL_1] mail a.b@example.com [card_2] call +49 30 1234567 or (555) 123-4567",
		"a@b@c.de x.@y.com ..a.b@c.de é@ü.de a@b.c-d.com@e.org mail@host.example.comX mail@host.c0m (me@ex.co) <a+b%c@d-e.f.gh>",
		"[SECRET_1] [ſecret_2] [\u212aey_3] [a_] [_1] [A1b_22][x_1 [[y_2]] [email_1]x",
		"pass\xffword: Abc123456 p\u00e1ssword: Xyz123456 \xc5\xbfecret=abcdef123456",
	}
	return append(seeds, sampleBodies(t)...)
}

// FuzzFindersRef checks the sped-up finders, and Mask as a whole, against
// the reference versions: the same spans, the same masked text.
func FuzzFindersRef(f *testing.F) {
	for _, s := range maskSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			name     string
			got, ref func(string) [][2]int
		}{
			{"findSecrets", findSecrets, refFindSecrets},
			{"findCards", findCards, refFindCards},
			{"findIPs", findIPs, refFindIPs},
			{"findEmails", findEmails, refFindEmails},
			{"placeholders", placeholderSpans, refPlaceholderSpans},
		} {
			if g, w := c.got(s), c.ref(s); !slices.Equal(g, w) {
				t.Fatalf("%s(%q) = %v, reference %v", c.name, s, g, w)
			}
		}
		if g, w := NewMasker().Mask(s), refMask(NewMasker(), s); g != w {
			t.Fatalf("Mask(%q) = %q, reference %q", s, g, w)
		}
	})
}

func placeholderSpans(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); i++ {
		if s[i] == '[' {
			if end := placeholderEnd(s, i); end > 0 {
				out = append(out, [2]int{i, end})
				i = end - 1
			}
		}
	}
	return out
}

func refPlaceholderSpans(s string) [][2]int {
	var out [][2]int
	for _, m := range placeholderRE.FindAllStringIndex(s, -1) {
		out = append(out, [2]int{m[0], m[1]})
	}
	return out
}

// TestPlaceholderRune checks placeholderRune against the classes of
// placeholderRE for every rune.
func TestPlaceholderRune(t *testing.T) {
	letter, alnum := regexp.MustCompile(`^(?i)[a-z]`), regexp.MustCompile(`^(?i)[a-z0-9]`)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		s := string(r) + "x"
		for _, c := range []struct {
			re     *regexp.Regexp
			digits bool
		}{{letter, false}, {alnum, true}} {
			want := 0
			if m := c.re.FindStringIndex(s); m != nil {
				want = m[1]
			}
			if got := placeholderRune(s, c.digits); got != want {
				t.Fatalf("placeholderRune(%q, %v) = %d, want %d", s, c.digits, got, want)
			}
		}
	}
}

// FuzzHeadRE checks headRE.findAll against FindAllStringSubmatchIndex of
// the unanchored expression, for each secret expression.
func FuzzHeadRE(f *testing.F) {
	for _, s := range maskSeeds(f) {
		f.Add(s)
	}
	type pair struct {
		h   *headRE
		ref *regexp.Regexp
	}
	pairs := []pair{
		{tokenRE, regexp.MustCompile(`\b` + tokenExpr)},
		{bearerRE, regexp.MustCompile(`(?i)\b` + bearerExpr)},
		{passwordRE, regexp.MustCompile(`(?i)\b` + passwordExpr)},
		{keyValueRE, regexp.MustCompile(`(?i)\b` + keyValueExpr)},
		{pinRE, regexp.MustCompile(`(?i)\b` + pinExpr)},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range pairs {
			got, want := p.h.findAll(s), p.ref.FindAllStringSubmatchIndex(s, -1)
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("%s: findAll(%q) = %v, want %v", p.ref, s, got, want)
			}
		}
	})
}

// TestHeadREExpressions checks that the expressions headRE runs are the
// ones the reference finders use.
func TestHeadREExpressions(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{`\b` + tokenExpr, refTokenRE.String()},
		{`(?i)\b` + bearerExpr, refBearerRE.String()},
		{`(?i)\b` + passwordExpr, refPasswordRE.String()},
		{`(?i)\b` + keyValueExpr, refKeyValueRE.String()},
		{`(?i)\b` + pinExpr, refPinRE.String()},
	} {
		if c.got != c.want {
			t.Errorf("expression %q, reference %q", c.got, c.want)
		}
	}
}

func refFindEmails(s string) [][2]int {
	if strings.IndexByte(s, '@') < 0 {
		return nil
	}
	var spans [][2]int
	for _, m := range emailRE.FindAllStringIndex(s, -1) {
		start := m[0]
		for start < m[1] && s[start] == '.' {
			start++
		}
		if wordRuneAt(s, m[1]) {
			continue // a top-level domain glued to more letters or digits
		}
		spans = append(spans, [2]int{start, m[1]})
	}
	return spans
}
