package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The functions below are the regexp-only versions that the pre-filters of
// clean_footer.go sped up, kept as they were to check the fast ones against.

func refTail(lines []string, r *CleanReport) []string {
	lines = cutSignature(lines, r)
	lines = refDropMobile(lines, r)
	lines = refDropDisclaimers(lines, r)
	lines = dropSignoff(lines, r)
	return lines
}

func refIsMobile(l string) bool {
	t := strings.TrimSpace(l)
	if len(t) < 10 || len(t) > 80 {
		return false
	}
	return len(strings.Fields(t)) <= 8 && mobileRE.MatchString(t)
}

func refDropMobile(lines []string, r *CleanReport) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if refIsMobile(l) {
			r.SignatureLines++
			continue
		}
		out = append(out, l)
	}
	return out
}

func refDropDisclaimers(lines []string, r *CleanReport) []string {
	ps := paragraphs(lines)
	if len(ps) == 0 {
		return lines
	}
	drop := make([]bool, len(lines))
	strong := make([]bool, len(ps))
	mark := func(from, to int) {
		for j := from; j < to; j++ {
			drop[j] = true
		}
	}
	lower := make([]string, len(ps))
	for k, p := range ps {
		lower[k] = strings.ToLower(paraText(lines, p))
	}
	for k, p := range ps {
		if !strongKeySet.has(lower[k]) || !strongRE.MatchString(strings.Join(strings.Fields(lower[k]), " ")) {
			continue
		}
		strong[k] = true
		if k > 0 {
			mark(p.start, p.end)
			continue
		}
		for j := p.start; j < p.end; j++ {
			if l := strings.ToLower(lines[j]); strongKeySet.has(l) && strongRE.MatchString(l) {
				mark(j, p.end)
				break
			}
		}
	}
	for k := len(ps) - 1; k >= 1; k-- {
		p := ps[k]
		if strong[k] || separatorPara(lines, p) || weakKeySet.has(lower[k]) && weakRE.MatchString(lower[k]) {
			mark(p.start, p.end)
			continue
		}
		break
	}
	// "View in browser" lines: among the first few lines, when words follow.
	seen := 0
	for i := 0; i < len(lines) && seen < 4; i++ {
		if blank(lines[i]) {
			continue
		}
		seen++
		if len(lines[i]) <= 100 && leadRE.MatchString(lines[i]) && nonBlank(lines[i+1:]) > 0 {
			drop[i] = true
		}
	}
	out := lines[:0:0]
	for i, l := range lines {
		if drop[i] {
			if !blank(l) {
				r.DisclaimerLines++
			}
			continue
		}
		out = append(out, l)
	}
	return out
}

// TestStrongNeedsFolding checks what makes mayStrong exact: in lower-cased
// text, no rune but the long s folds, as (?i) does, with a letter of
// strongNeeds without being that letter.
func TestStrongNeedsFolding(t *testing.T) {
	for _, groups := range strongNeeds {
		for _, g := range groups {
			for _, w := range g {
				if strings.ContainsFunc(w, unicode.IsSpace) || w != strings.ToLower(w) {
					t.Errorf("word %q: want lower case and no space", w)
				}
				for _, c := range w {
					for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
						if f != 'ſ' && unicode.ToLower(f) != c {
							t.Errorf("%q folds with %q, which stays itself in lower case", c, f)
						}
					}
				}
			}
		}
	}
}

// tailSeeds are texts that hold, or nearly hold, what tail drops.
func tailSeeds(f testing.TB) []string {
	seeds := []string{
		"Hi,\n\nthe export fails.\n\nSent from my iPhone",
		"Text\n\nENVOYÉ DE MON IPHONE\n\nGet Outlook for iOS",
		"Text\nSent\u00a0from my\tiPhone and more words here to count past eight",
		"paſſword\n\nſent from my iPhone",
		"Hello\n\nCONFIDENTIALITY NOTICE: this e-mail, and any attachments, is private.",
		"Hello\n\nThis\nmessage   and  any files may be secret.\n\nIf you are not the intended\nrecipient, delete it.",
		"Hello\n\nIf you have received this email in error please tell us.",
		"Hallo\n\nDiese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige Adressat sind, löschen.",
		"Bonjour\n\nCe message et toutes ses pièces jointes sont confidentiels. Si vous n’êtes pas le destinataire, effacez-le.",
		"Hola\n\nEste correo electrónico y sus archivos adjuntos son privados. Si usted no es el destinatario, bórrelo.",
		"Hi\n\nPlease consider the environment before printing. Think before you print.\n\nBitte denken Sie an die Umwelt. Pensez à l'environnement avant d'imprimer.",
		"Hi\n\nthe printer prints files named x in this message\n\nmore",
		"CONFIDENTIALITY NOTICE first\nthen words\n\nsecond",
		"View in browser\n\nHello\n\nUnsubscribe | Manage preferences\n\n© 2025 Acme",
		"Hi\n\nthiſ meſſage and any fileſ\n\nThanks,\nAnna",
		"Hi\n\nthink\nbefore\nyou\nprint\n\nBest regards,\nRaj",
		" \t VIEW ONLINE\nWeb Version »\n\fHaving trouble viewing this email?\nCan’t see this message?\nHello there\n\nIf you cannot read this newsletter, fine",
		"Im Browser ansehen\nVoir en ligne ici\nAfficher dans le navigateur\nVer en el navegador\nOnline ansehen\n\vview in browser\nWords",
	}
	return append(seeds, sampleBodies(f)...)
}

// sampleBodies returns the saved e-mails and ticket bodies of testdata.
func sampleBodies(t testing.TB) []string {
	t.Helper()
	var out []string
	emails, _ := filepath.Glob("../testdata/emails/*.txt")
	tickets, _ := filepath.Glob("../testdata/tickets/*.json")
	if len(emails) == 0 || len(tickets) == 0 {
		t.Fatal("no samples in ../testdata/emails or ../testdata/tickets")
	}
	for _, name := range append(emails, tickets...) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".json") {
			var tk struct {
				Body string `json:"body"`
			}
			if err := json.Unmarshal(b, &tk); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			b = []byte(tk.Body)
		}
		out = append(out, string(b))
	}
	return out
}

// FuzzTailRef checks tail against refTail, the version without the
// pre-filters: same lines kept, same counts.
func FuzzTailRef(f *testing.F) {
	for _, s := range tailSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := splitLines(text)
		var got, want CleanReport
		g := tail(slices.Clone(lines), &got)
		w := refTail(slices.Clone(lines), &want)
		if !slices.Equal(g, w) || got != want {
			t.Fatalf("tail differs from refTail on %q:\n got %q %+v\nwant %q %+v", text, g, got, w, want)
		}
	})
}

// FuzzLineRef checks the line helpers that lost their per-rune calls
// against the versions they replace: filterRunes (text and counts),
// squeeze, and fieldCount against strings.Fields.
func FuzzLineRef(f *testing.F) {
	for _, s := range []string{"", "a  b", " \t indent  x\u00a0y\u2003z ", "caf\u00e9 \xff bad\xe2\x82", "x\u200d\U0001F600\u200d\U0001F600\v\f\x7f",
		"\u0085next\u2028line\ufeff", "\uFFFD ok", "tab\there", "a\u200bb\u00adc", "\xc5\xbf\xe2\x84\xaa"} {
		f.Add(s)
	}
	for _, s := range sampleBodies(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want CleanReport
		if g, w := filterRunes(s, &got), refFilterRunes(s, &want); g != w || got != want {
			t.Fatalf("filterRunes(%q) = %q %+v, want %q %+v", s, g, got, w, want)
		}
		if g, w := squeeze(s), refSqueeze(s); g != w {
			t.Fatalf("squeeze(%q) = %q, want %q", s, g, w)
		}
		if g, w := fieldCount(s), len(strings.Fields(s)); g != w {
			t.Fatalf("fieldCount(%q) = %d, want %d", s, g, w)
		}
	})
}

func refFilterRunes(s string, r *CleanReport) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := rune(-1)
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case c == utf8.RuneError && size == 1:
			r.ControlChars++
			continue
		case c == '\t':
		case c == '\v' || c == '\f':
			r.ControlChars++
			c = ' '
		case c == 0x00A0 || c == 0x202F || c == 0x2007:
			c = ' '
		case c == 0x200D:
			next, _ := utf8.DecodeRuneInString(s[i:])
			if emojiPart(prev) && unicode.Is(unicode.So, next) {
				break
			}
			r.ControlChars++
			continue
		case unicode.IsControl(c) || invisible(c):
			r.ControlChars++
			continue
		}
		b.WriteRune(c)
		prev = c
	}
	return b.String()
}
func refSqueeze(s string) string {
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	if s == "" {
		return ""
	}
	body := strings.TrimLeftFunc(s, unicode.IsSpace)
	indent := s[:len(s)-len(body)]
	if !refNeedsSqueeze(body) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(indent)
	space := false
	for _, c := range body {
		if unicode.IsSpace(c) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(c)
	}
	return b.String()
}
func refNeedsSqueeze(s string) bool {
	prevSpace := false
	for _, c := range s {
		sp := unicode.IsSpace(c)
		if sp && (prevSpace || c != ' ') {
			return true
		}
		prevSpace = sp
	}
	return false
}

// FuzzKeySetFold checks keySet.hasFoldASCII against has on the lower-cased
// text, and that no cleaning key holds a line break (paraHasKey looks for
// them line by line).
func FuzzKeySetFold(f *testing.F) {
	for _, s := range []string{"", "A", "CONFIDENTIAL", "Received This", "UnSubscribe", "(C) 2025", "x\ny", "Files\tNamed"} {
		f.Add(s)
	}
	lists := [][]string{strongKeys, weakKeys, {"a", "bc", "X", "\u00e9t\u00e9"}, {""}}
	sets := make([]*keySet, len(lists))
	for i, l := range lists {
		sets[i] = newKeySet(l)
	}
	for _, k := range append(slices.Clone(strongKeys), weakKeys...) {
		if strings.Contains(k, "\n") {
			f.Fatalf("key %q holds a line break", k)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isASCII(s) {
			return
		}
		for i, ks := range sets {
			if got, want := ks.hasFoldASCII(s), ks.has(strings.ToLower(s)); got != want {
				t.Fatalf("keySet(%q).hasFoldASCII(%q) = %v, has(ToLower) = %v", lists[i], s, got, want)
			}
		}
	})
}
