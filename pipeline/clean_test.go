package pipeline_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenMaxTokens is the budget the golden files are cleaned with: the
// same 12,000 runes Clean keeps.
const goldenMaxTokens = pipeline.MaxInputRunes / 4

// reportLine renders a report as the golden files show it.
func reportLine(r pipeline.CleanReport) string {
	var parts []string
	for _, a := range r.LogValue().Group() {
		parts = append(parts, fmt.Sprintf("%s=%d", a.Key, a.Value.Int64()))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	return "--- report: " + strings.Join(parts, " ")
}

// sample is one body with its golden file.
type sample struct {
	name, body, golden string
}

// emailSamples reads testdata/emails/*.txt.
func emailSamples(t testing.TB) []sample {
	t.Helper()
	files, err := filepath.Glob("../testdata/emails/*.txt")
	if err != nil || len(files) < 30 {
		t.Fatalf("want at least 30 e-mails in testdata/emails, got %d (%v)", len(files), err)
	}
	var out []sample
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		out = append(out, sample{name, string(raw), filepath.Join("../testdata/emails/golden", name)})
	}
	return out
}

// ticketSamples reads the bodies of testdata/tickets/*.json.
func ticketSamples(t testing.TB) []sample {
	t.Helper()
	files, err := filepath.Glob("../testdata/tickets/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no tickets in testdata/tickets (%v)", err)
	}
	var out []sample
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tk struct {
			Body string `json:"body"`
		}
		if err := json.Unmarshal(raw, &tk); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		out = append(out, sample{name, tk.Body, filepath.Join("../testdata/tickets/golden", name+".txt")})
	}
	return out
}

// TestCleanBodyGolden cleans every saved e-mail and ticket body and compares
// the text and the report with the golden files; -update rewrites them.
func TestCleanBodyGolden(t *testing.T) {
	samples := append(emailSamples(t), ticketSamples(t)...)
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			text, rep := pipeline.CleanBody(s.body, goldenMaxTokens)
			got := text + "\n" + reportLine(rep) + "\n"
			if *update {
				if err := os.MkdirAll(filepath.Dir(s.golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(s.golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(s.golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pipeline -run TestCleanBodyGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("CleanBody differs from %s (rerun with -update and review the diff):\n%s", s.golden, got)
			}
		})
	}
}

func TestCleanBody(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      string
		wantQuote int // QuotedLines
		wantSig   int // SignatureLines
	}{
		{
			name: "thanks opening a sentence is not a sign-off",
			in:   "Hi,\n\nThanks, the fix worked but now X fails\n",
			want: "Hi,\n\nThanks, the fix worked but now X fails",
		},
		{
			name: "thanks with only a sentence after it is not a sign-off",
			in:   "Hi,\n\nThe export broke.\n\nThanks,\nthe fix worked but now X fails",
			want: "Hi,\n\nThe export broke.\n\nThanks,\nthe fix worked but now X fails",
		},
		{
			name:    "sign-off and name block at the end",
			in:      "The export broke.\n\nBest regards,\nAnna Schmidt\nHead of Finance\nGlobex Ltd.\n+1 555 0100",
			want:    "The export broke.",
			wantSig: 5,
		},
		{
			name:    "sign-off with the name on its line",
			in:      "The export broke.\nThanks    Raj",
			want:    "The export broke.",
			wantSig: 1,
		},
		{
			name: "sign-off in the middle is text",
			in:   "Thanks!\nThe export broke yesterday and again today when I tried the weekly report.",
			want: "Thanks!\nThe export broke yesterday and again today when I tried the weekly report.",
		},
		{
			name: "sign-off followed by more than six lines stays",
			in:   "Problem.\n\nRegards,\na\nb\nc\nd\ne\nf\ng",
			want: "Problem.\n\nRegards,\na\nb\nc\nd\ne\nf\ng",
		},
		{
			name: "a message that is only a sign-off stays",
			in:   "Thanks!",
			want: "Thanks!",
		},
		{
			name: "a message that is only a mobile signature stays",
			in:   "Sent from my iPhone",
			want: "Sent from my iPhone",
		},
		{
			name:      "forward with no new words is kept whole",
			in:        "---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, 3 Mar 2025\nSubject: Broken\nTo: b@example.com\n\nThe invoice link is broken.",
			want:      "---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, 3 Mar 2025\nSubject: Broken\nTo: b@example.com\n\nThe invoice link is broken.",
			wantQuote: 0,
		},
		{
			name:      "forward with a note keeps the note",
			in:        "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: A <a@example.com>\nDate: Mon, 3 Mar 2025\nSubject: Broken\n\nThe invoice link is broken.",
			want:      "FYI, see below.",
			wantQuote: 3, // Date, Subject and the text; From counts as a header block
		},
		{
			name:      "attribution and quotes",
			in:        "New words.\n\nOn Mon, 3 Mar 2025 at 10:14, Jane <jane@example.com> wrote:\n> old\n> words",
			want:      "New words.",
			wantQuote: 3,
		},
		{
			name:      "answers between quotes stay",
			in:        "On Mon, 3 Mar 2025, Jane <jane@example.com> wrote:\n> Which plan?\nBusiness.\n> How many seats?\nForty.",
			want:      "Business.\nForty.",
			wantQuote: 3,
		},
		{
			name: "a lone quote without reply structure is the customer's",
			in:   "I get this:\n> Error: not found\nWhat now?",
			want: "I get this:\n> Error: not found\nWhat now?",
		},
		{
			name:      "a closing quote block is history",
			in:        "That worked, thanks a lot!\n\n> Please clear the cache.\n> Best, Jane",
			want:      "That worked, thanks a lot!",
			wantQuote: 2,
		},
		{
			name: "python prompt is not a quote",
			in:   ">>> import acme\n>>> acme.run()\nKeyError: 'rows'",
			want: ">>> import acme\n>>> acme.run()\nKeyError: 'rows'",
		},
		{
			name: "from inside a paragraph is text",
			in:   "I moved the project.\nFrom: the old workspace\nTo: the new one\nSubject: of the mail was empty",
			want: "I moved the project.\nFrom: the old workspace\nTo: the new one\nSubject: of the mail was empty",
		},
		{
			name: "on monday I wrote is not an attribution",
			in:   "Hi,\n\nOn Monday I wrote:\nThe export fails.\nStill no answer.",
			want: "Hi,\n\nOn Monday I wrote:\nThe export fails.\nStill no answer.",
		},
		{
			name: "unsubscribe request is the customer's",
			in:   "Hi,\n\nPlease unsubscribe me from the newsletter.",
			want: "Hi,\n\nPlease unsubscribe me from the newsletter.",
		},
		{
			name: "intended only for, said by a customer",
			in:   "Hi,\n\nThis report is intended only for our auditors. Can you make it read-only?",
			want: "Hi,\n\nThis report is intended only for our auditors. Can you make it read-only?",
		},
		{
			name:    "signature delimiter",
			in:      "Help!\n-- \nBob\nwww.example.com",
			want:    "Help!",
			wantSig: 3,
		},
		{
			name:    "mobile signatures in four languages",
			in:      "Help!\nSent from my iPhone\nVon meinem iPhone gesendet\nEnvoyé de mon iPhone\nEnviado desde mi iPhone",
			want:    "Help!",
			wantSig: 4,
		},
		{
			name: "crlf, blank runs, spaces",
			in:   "a  b\t\tc\r\n\r\n\r\n\r\nd   \r\n",
			want: "a b c\n\nd",
		},
		{
			name: "indentation stays",
			in:   "Trace:\n    at main.go:12\n    at run.go:40",
			want: "Trace:\n    at main.go:12\n    at run.go:40",
		},
		{
			name: "emoji joiner stays, lone joiners go",
			in:   "family 👨\u200d👩\u200d👧 ok\u200d.",
			want: "family 👨\u200d👩\u200d👧 ok.",
		},
		{
			name: "html body",
			in:   "<html><head><style>p{}</style></head><body><p>Hello &amp; welcome</p><p>Line<br>two</p><ul><li>a</li><li>b</li></ul><script>x()</script></body></html>",
			want: "Hello & welcome\n\nLine\ntwo\n\n- a\n- b",
		},
		{
			name: "plain text mentioning tags stays plain",
			in:   "The preview shows <br> literally.\nAnd a stray </body> at the end.",
			want: "The preview shows <br> literally.\nAnd a stray </body> at the end.",
		},
		{
			name: "empty",
			in:   " \n\t\n",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rep := pipeline.CleanBody(tt.in, 0)
			if got != tt.want {
				t.Errorf("CleanBody(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if rep.QuotedLines != tt.wantQuote {
				t.Errorf("QuotedLines = %d, want %d", rep.QuotedLines, tt.wantQuote)
			}
			if rep.SignatureLines != tt.wantSig {
				t.Errorf("SignatureLines = %d, want %d", rep.SignatureLines, tt.wantSig)
			}
		})
	}
}

func TestCleanBodyReport(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want pipeline.CleanReport
	}{
		{"nothing to do", "hello", pipeline.CleanReport{}},
		{"control chars and invalid bytes", "he\u200bl\x00lo\xff", pipeline.CleanReport{ControlChars: 3}},
		{"repeated lines", "a\na\na\nb", pipeline.CleanReport{RepeatedLines: 2}},
		{"html tags", "<p>a</p><p>b</p>", pipeline.CleanReport{HTMLTags: 4}},
		{"header block", "Hi.\n\nFrom: A\nSent: B\nTo: C\nSubject: D\n\nold", pipeline.CleanReport{HeaderBlocks: 1, QuotedLines: 4}},
		{"forward marker", "Hi.\n\n-----Original Message-----\nold", pipeline.CleanReport{ForwardMarkers: 1, QuotedLines: 1}},
		{"disclaimer", "Hi.\n\nCONFIDENTIALITY NOTICE: secret\nstuff", pipeline.CleanReport{DisclaimerLines: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := pipeline.CleanBody(tt.in, 0); got != tt.want {
				t.Errorf("report = %+v, want %+v", got, tt.want)
			}
		})
	}
	r := pipeline.CleanReport{HTMLTags: 2, QuotedLines: 3, CutRunes: 10}
	if r.Total() != 15 {
		t.Errorf("Total = %d, want 15", r.Total())
	}
	if got := reportLine(r); got != "--- report: html_tags=2 quoted_lines=3 cut_runes=10" {
		t.Errorf("LogValue = %q", got)
	}
}

func TestCleanBodyCut(t *testing.T) {
	body := "HEAD " + strings.Repeat("middle words ", 2000) + "TAIL"
	tests := []struct {
		name      string
		maxTokens int
		wantCut   bool
	}{
		{"no limit", 0, false},
		{"negative is no limit", -1, false},
		{"fits exactly", (utf8.RuneCountInString(body) + 3) / 4, false},
		{"one token short", (utf8.RuneCountInString(body)+3)/4 - 1, true},
		{"small budget", 100, true},
		{"budget below the marker", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rep := pipeline.CleanBody(body, tt.maxTokens)
			if !tt.wantCut {
				if got != body || rep.CutRunes != 0 {
					t.Fatalf("cut %d runes, want none", rep.CutRunes)
				}
				return
			}
			if !strings.Contains(got, pipeline.CutMarker) || rep.CutRunes == 0 {
				t.Fatalf("no cut: %d runes, report %+v", utf8.RuneCountInString(got), rep)
			}
			n := utf8.RuneCountInString(got)
			limit := max(tt.maxTokens*4, utf8.RuneCountInString(pipeline.CutMarker))
			if n > limit {
				t.Errorf("cut text has %d runes, budget %d", n, limit)
			}
			if tt.maxTokens >= 100 && (!strings.HasPrefix(got, "HEAD") || !strings.HasSuffix(got, "TAIL")) {
				t.Errorf("lost head or tail: %q…%q", got[:20], got[len(got)-20:])
			}
			if n+rep.CutRunes-utf8.RuneCountInString(pipeline.CutMarker) > utf8.RuneCountInString(body) {
				t.Errorf("CutRunes %d does not add up", rep.CutRunes)
			}
		})
	}
}

// TestCleanKeepsSubjects pins Clean to the character level: it drops no
// words, only invisible characters and space.
func TestCleanKeepsSubjects(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"sign-off words stay", "Thanks, re: invoice", "Thanks, re: invoice"},
		{"quote marks stay", "> Re: Fwd: refund", "> Re: Fwd: refund"},
		{"bidi and bom", "\ufeffrefund\u202e please", "refund please"},
		{"emoji joiner", "👨\u200d👩 help", "👨\u200d👩 help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pipeline.Clean(tt.in); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
