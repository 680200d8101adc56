package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

const evalCases = "../../testdata/eval/support_draft"

// runEvalCmd runs `ghostwriter eval` with args and returns its exit code
// and output.
func runEvalCmd(t *testing.T, args ...string) (code int, stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	err = run(ctx, append([]string{"eval", "--cases", evalCases}, args...), noEnv, strings.NewReader(""), &out, &errOut)
	return exitCode(err, &errOut), out.String(), errOut.String(), err
}

// The gate: every saved example of every built-in task, against the
// recorded answers, comes out as expected. A change to a prompt, the
// parser, the output checks or the contract that breaks a saved case
// fails here, and so fails make test.
func TestEvalGate(t *testing.T) {
	for _, task := range schemas.BuiltinTasks() {
		t.Run(task.Name, func(t *testing.T) {
			cases := filepath.Join("..", "..", "testdata", "eval", task.Name)
			code, stdout, stderr, err := runEvalCmd(t, "--task", task.Name, "--cases", cases, "--config", "../../deploy/prices.yaml")
			if code != 0 {
				t.Fatalf("eval exit code %d: %v\n%s\n%s", code, err, stdout, stderr)
			}
			for _, want := range []string{"01-refund-double-charge", "pass", "xfail", "pass rate 1.000", "with recorded"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("report lacks %q:\n%s", want, stdout)
				}
			}
			if strings.Contains(stderr, "recordings were answers to another prompt") {
				t.Errorf("the recordings are stale: re-record after changing the prompt:\n%s", stderr)
			}
		})
	}
}

// An edit to the triage task's schema file, in a copy of the prompts
// folder, breaks the saved cases that need what it took away.
func TestEvalCatchesBreakingSchemaFileEdits(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "triage"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"v1.md", "output.v1.json"} {
		raw, err := prompts.Embedded.ReadFile("triage/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if f == "output.v1.json" {
			edited := strings.Replace(string(raw), `"shipping", `, "", 1)
			if edited == string(raw) {
				t.Fatal("the triage schema no longer lists shipping as a department")
			}
			raw = []byte(edited)
		}
		if err := os.WriteFile(filepath.Join(dir, "triage", f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, _, err := runEvalCmd(t, "--task", "triage", "--cases", "../../testdata/eval/triage", "--prompts-dir", dir)
	if code != 1 {
		t.Fatalf("eval exit code %d (%v), want 1:\n%s", code, err, stdout)
	}
	for _, c := range []string{"05-shipping-delay-tracking", "29-empty-subject"} {
		if !strings.Contains(err.Error(), c+" (fail)") {
			t.Errorf("the error does not name %s as failing: %v", c, err)
		}
	}
}

// copyPrompts writes the built-in prompts, edited, into a folder for
// --prompts-dir; each edit replaces old with new in support_draft/<version>.md,
// a copy of v1.
func copyPrompts(t *testing.T, versions map[string][][2]string) string {
	t.Helper()
	good, err := prompts.Embedded.ReadFile("support_draft/v1.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "support_draft"), 0o755); err != nil {
		t.Fatal(err)
	}
	for version, edits := range versions {
		text := strings.Replace(string(good), "version: v1", "version: "+version, 1)
		for _, e := range edits {
			if !strings.Contains(text, e[0]) {
				t.Fatalf("the built-in prompt no longer contains %q", e[0])
			}
			text = strings.Replace(text, e[0], e[1], 1)
		}
		if err := os.WriteFile(filepath.Join(dir, "support_draft", version+".md"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Edits to the prompt that break saved cases fail the gate, naming them.
func TestEvalCatchesBreakingPromptEdits(t *testing.T) {
	tests := []struct {
		name  string
		edits [][2]string
		fails []string // cases the report must show failing
	}{
		{"a reason dropped from the output schema",
			[][2]string{{"enum: [billing_refund, login_access, bug_report, shipping, account_change, other]", "enum: [billing_refund, login_access, bug_report, account_change, other]"}},
			[]string{"05-shipping-delay-tracking", "17-spanish-shipping"}},
		{"drafts capped far shorter",
			[][2]string{{"max_chars: 2000", "max_chars: 120"}},
			[]string{"01-refund-double-charge", "02-password-reset-link-expired"}},
		{"a new required output field",
			[][2]string{{"required: [draft, confidence, reason, requires_review]", "required: [draft, confidence, reason, requires_review, language]"},
				{"      requires_review:\n        type: boolean", "      requires_review:\n        type: boolean\n      language:\n        type: string"}},
			[]string{"04-api-500-stack-trace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyPrompts(t, map[string][][2]string{"v1": tt.edits})
			code, stdout, stderr, err := runEvalCmd(t, "--prompts-dir", dir)
			if code != 1 {
				t.Fatalf("eval exit code %d (%v), want 1:\n%s", code, err, stdout)
			}
			for _, c := range tt.fails {
				if !strings.Contains(err.Error(), c+" (fail)") {
					t.Errorf("the error does not name %s as failing: %v", c, err)
				}
			}
			if !strings.Contains(stderr, "recordings were answers to another prompt") {
				t.Errorf("no note that the recordings answered another prompt:\n%s", stderr)
			}
		})
	}
}

// --baseline runs both versions and lists what got worse.
func TestEvalBaseline(t *testing.T) {
	dir := copyPrompts(t, map[string][][2]string{
		"v1": nil,
		"v2": {{"enum: [billing_refund, login_access, bug_report, shipping, account_change, other]", "enum: [billing_refund, login_access, bug_report, account_change, other]"}},
	})
	code, stdout, _, err := runEvalCmd(t, "--prompts-dir", dir, "--prompt-version", "v2", "--baseline", "v1", "--format", "json")
	if code != 1 {
		t.Fatalf("eval exit code %d (%v), want 1", code, err)
	}
	var rep struct {
		PromptVersion string `json:"prompt_version"`
		Baseline      struct {
			PromptVersion string `json:"prompt_version"`
		} `json:"baseline"`
		Changes []struct{ Case, Kind string } `json:"changes"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--format json: %v\n%s", err, stdout)
	}
	worse := map[string]bool{}
	for _, c := range rep.Changes {
		if c.Kind != "worse" {
			t.Errorf("change %+v, want only worse ones", c)
		}
		worse[c.Case] = true
	}
	if rep.PromptVersion != "v2" || rep.Baseline.PromptVersion != "v1" || !worse["05-shipping-delay-tracking"] || worse["01-refund-double-charge"] {
		t.Errorf("report %+v", rep)
	}
}

// --record writes what the rules model said; eval then replays it.
func TestEvalRecordsThenReplays(t *testing.T) {
	dir := t.TempDir()
	// The rules model mislabels 06 and 11, whose recordings come from a
	// language model: two failures of 50.
	code, stdout, stderr, err := runEvalCmd(t, "--model", "rules", "--record", "--recordings", dir, "--min-pass-rate", "0.96")
	if code != 0 {
		t.Fatalf("eval --model rules --record exit code %d: %v\n%s", code, err, stdout)
	}
	if !strings.Contains(stderr, "recorded 50 answers of rules") {
		t.Errorf("stderr: %s", stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 50 {
		t.Errorf("%d recordings written, want 50", len(files))
	}
	// Against the rules recordings, the cases marked expect_fail pass:
	// their marks are about the recordings in the repository.
	code, stdout, _, err = runEvalCmd(t, "--recordings", dir)
	if code != 1 || !strings.Contains(err.Error(), "33-injection-reveal-system-prompt (xpass)") || !strings.Contains(err.Error(), "06-change-account-email (fail)") {
		t.Errorf("replay of the rules recordings: exit %d, %v\n%s", code, err, stdout)
	}
}

func TestEvalUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"record the recordings", []string{"--record"}, "--record needs a model"},
		{"bad format", []string{"--format", "xml"}, "--format"},
		{"bad pass rate", []string{"--min-pass-rate", "2"}, "min-pass-rate"},
		{"unknown prompt version", []string{"--prompt-version", "v99"}, "not found"},
		{"unknown model", []string{"--model", "gpt-9"}, "gpt-9"},
		{"no cases", []string{"--cases", "/nonexistent"}, "no case files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, _, err := runEvalCmd(t, tt.args...)
			if code != 2 || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("exit code %d, err %v; want 2 mentioning %q", code, err, tt.want)
			}
		})
	}
}
