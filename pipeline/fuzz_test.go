package pipeline_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// FuzzCleanBody checks that CleanBody never panics, always returns valid
// UTF-8, never grows its input by more than CutMarker (in bytes and in
// runes), keeps to its token budget when it cuts, and reports no negative
// count. Idempotence is not a property: cleaning a cleaned text may find a
// new last line that reads as a sign-off.
func FuzzCleanBody(f *testing.F) {
	for _, s := range emailSamples(f) {
		f.Add(s.body, 0)
	}
	for _, s := range ticketSamples(f) {
		f.Add(s.body, 200)
	}
	f.Add("<blockquote><pre>a\nb\nc</pre></blockquote>", 0)
	f.Add("<p>&nGt;&nLt;&nGt;</p><br><div>x</div>", 1)
	markerRunes := utf8.RuneCountInString(pipeline.CutMarker)
	f.Fuzz(func(t *testing.T, text string, maxTokens int) {
		out, rep := pipeline.CleanBody(text, maxTokens)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out: %q", out)
		}
		if len(out) > len(text)+len(pipeline.CutMarker) {
			t.Fatalf("output %d bytes, input %d: %q → %q", len(out), len(text), text, out)
		}
		n := utf8.RuneCountInString(out)
		if n > utf8.RuneCountInString(text)+markerRunes {
			t.Fatalf("output %d runes, input %d: %q → %q", n, utf8.RuneCountInString(text), text, out)
		}
		if maxTokens > 0 && maxTokens < 1<<40 && rep.CutRunes > 0 && n > max(maxTokens*4, markerRunes) {
			t.Fatalf("cut output %d runes over budget %d tokens", n, maxTokens)
		}
		for _, c := range []int{rep.HTMLTags, rep.ControlChars, rep.QuotedLines, rep.HeaderBlocks, rep.ForwardMarkers,
			rep.SignatureLines, rep.DisclaimerLines, rep.RepeatedLines, rep.CutRunes} {
			if c < 0 {
				t.Fatalf("negative count in %+v", rep)
			}
		}
	})
}

// anyPlaceholder matches what Unmask treats as a placeholder.
var anyPlaceholder = regexp.MustCompile(`(?i)\[[a-z][a-z0-9]*_[0-9]+\]`)

// FuzzMask checks that Mask never panics, that Unmask gives back exactly
// the text Mask was given (when it held no placeholder-shaped token of its
// own), and that no raw value of six runes or more that Mask replaced is
// left anywhere outside a placeholder.
func FuzzMask(f *testing.F) {
	for _, tk := range genCorpus(22) {
		f.Add(tk.text)
	}
	for _, s := range ticketSamples(f) {
		f.Add(s.body)
	}
	f.Add("password: Summer2024! then Summer2024!x and xSummer2024!")
	f.Add("4111 1111 1111 1111 12/29 +1 555 0100 DE89 3704 0044 0532 0130 00")
	f.Fuzz(func(t *testing.T, text string) {
		if anyPlaceholder.MatchString(text) {
			return
		}
		m := pipeline.NewMasker()
		masked := m.Mask(text)
		back, _ := m.Unmask(masked)
		if back != text {
			t.Fatalf("Unmask(Mask(x)) != x\n   x %q\nmask %q\nback %q", text, masked, back)
		}
		outside := anyPlaceholder.ReplaceAllString(masked, "[]")
		for _, tok := range anyPlaceholder.FindAllString(masked, -1) {
			raw, _ := m.Unmask(tok)
			if raw == tok {
				t.Fatalf("Mask wrote a placeholder it does not know: %q in %q", tok, masked)
			}
			if utf8.RuneCountInString(raw) >= 6 && strings.Contains(outside, raw) {
				t.Fatalf("raw value %q left in %q", raw, masked)
			}
		}
	})
}
