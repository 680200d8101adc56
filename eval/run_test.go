package eval_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/eval"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

var update = flag.Bool("update", false, "rewrite golden files")

const casesDir = "../testdata/eval/support_draft"

func prompt(t *testing.T) *prompts.Prompt {
	t.Helper()
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("support_draft", "v1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// modelFunc is a pipeline.Model made of a function.
type modelFunc func(ctx context.Context, req pipeline.Request) (pipeline.Response, error)

func (f modelFunc) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	return f(ctx, req)
}

func draft(reason string) string {
	b, _ := json.Marshal(map[string]any{"draft": "Thanks, we are on it.", "confidence": 0.8, "reason": reason, "requires_review": false})
	return string(b)
}

// The saved examples: enough of them, every one with a recording and
// every recording with a case, and each case marked expect_fail answered
// by a recording someone wrote on purpose.
func TestSavedCasesAndRecordings(t *testing.T) {
	cases, err := eval.LoadCases(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 40 {
		t.Errorf("%d cases, want at least 40", len(cases))
	}
	rec, err := eval.LoadRecordings(filepath.Join(casesDir, "recorded"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range cases {
		names[c.Name] = true
		r, ok := rec.Recording(c.Name)
		if !ok {
			t.Errorf("case %s has no recording (run ghostwriter eval --model rules --record)", c.Name)
			continue
		}
		if c.ExpectFail && r.HandEdited == "" {
			t.Errorf("case %s is marked expect_fail, but its recording is not hand-edited", c.Name)
		}
	}
	files, _ := filepath.Glob(filepath.Join(casesDir, "recorded", "*.json"))
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".json"); !names[name] {
			t.Errorf("recording %s has no case", name)
		}
	}
}

func writeCase(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCasesRejects(t *testing.T) {
	const event = `"event": {"ticket_id": "T", "tenant_id": "a", "body": "hi"}`
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", `{"name": "c", ` + event + `, "assert": {"reasons": ["x"]}}`, "unknown field"},
		{"name is not the file's", `{"name": "other", ` + event + `, "assert": {}}`, "want the file's name"},
		{"no event", `{"name": "c", "assert": {}}`, "event is missing"},
		{"bad outcome", `{"name": "c", ` + event + `, "assert": {"outcome": "great"}}`, `outcome "great"`},
		{"draft assertions on a failure", `{"name": "c", ` + event + `, "assert": {"outcome": "invalid_input", "reason": "other"}}`, "has no draft"},
		{"error detail on a draft", `{"name": "c", ` + event + `, "assert": {"error_detail": "x"}}`, "needs a failure outcome"},
		{"schema_valid false", `{"name": "c", ` + event + `, "assert": {"schema_valid": false}}`, "cannot be false"},
		{"confidence bounds", `{"name": "c", ` + event + `, "assert": {"confidence_min": 0.9, "confidence_max": 0.5}}`, "above confidence_max"},
		{"expect_fail without a reason", `{"name": "c", ` + event + `, "assert": {}, "expect_fail": true}`, "expect_fail_reason"},
		{"bad age", `{"name": "c", ` + event + `, "age": "soon", "assert": {}}`, "age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCase(t, dir, "c", tt.text)
			_, err := eval.LoadCases(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadCases = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func loadDir(t *testing.T, files map[string]string) []eval.Case {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		writeCase(t, dir, name, text)
	}
	cases, err := eval.LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// A model whose answers alternate makes a flaky case; every run is
// counted once by the progress callback.
func TestRunRepeatFindsFlakyCases(t *testing.T) {
	cases := loadDir(t, map[string]string{
		"steady": `{"name": "steady", "event": {"ticket_id": "T-1", "tenant_id": "a", "body": "steady"}, "assert": {"reason": "other"}}`,
		"flaky":  `{"name": "flaky", "event": {"ticket_id": "T-2", "tenant_id": "a", "body": "flaky"}, "assert": {"reason": "shipping"}}`,
	})
	var flips atomic.Int64
	model := modelFunc(func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
		if strings.Contains(req.Input, "steady") {
			return pipeline.Response{Text: draft("other"), FinishReason: "stop"}, nil
		}
		if flips.Add(1)%2 == 0 {
			return pipeline.Response{Text: draft("other"), FinishReason: "stop"}, nil
		}
		return pipeline.Response{Text: draft("shipping"), FinishReason: "stop"}, nil
	})
	var calls, last int
	rep := eval.Run(testCtx(t), cases, &pipeline.Pipeline{Model: eval.Tap(model)}, prompt(t), eval.Options{
		Parallel: 3, Repeat: 4, Progress: func(done, total int) { calls++; last = done },
	})
	if calls != 8 || last != 8 {
		t.Errorf("progress called %d times, last done %d; want 8 and 8", calls, last)
	}
	byName := map[string]eval.Result{}
	for _, r := range rep.Results {
		byName[r.Case] = r
	}
	if r := byName["steady"]; r.Status != eval.Pass || r.Flaky || len(r.Trials) != 4 {
		t.Errorf("steady = %s flaky=%v trials=%d", r.Status, r.Flaky, len(r.Trials))
	}
	if r := byName["flaky"]; r.Status != eval.Fail || !r.Flaky || len(r.Failed) == 0 {
		t.Errorf("flaky = %s flaky=%v failed=%v", r.Status, r.Flaky, r.Failed)
	}
	if rep.Totals.Flaky != 1 || rep.Totals.Passed != 1 || rep.Totals.Failed != 1 || rep.Totals.PassRate != 0.5 {
		t.Errorf("totals %+v", rep.Totals)
	}
	if err := rep.Gate(0.5); err != nil {
		t.Errorf("Gate(0.5) = %v", err)
	}
	if err := rep.Gate(1); err == nil || !strings.Contains(err.Error(), "flaky (fail)") {
		t.Errorf("Gate(1) = %v, want it to name the flaky case", err)
	}
}

// expect_fail binds the recorded model only: there a failing case is
// expected and a passing one is not.
func TestExpectFailAppliesToRecordings(t *testing.T) {
	cases := loadDir(t, map[string]string{
		"bad":  `{"name": "bad", "event": {"ticket_id": "T-1", "tenant_id": "a", "body": "x"}, "assert": {"reason": "shipping"}, "expect_fail": true, "expect_fail_reason": "the answer says other"}`,
		"good": `{"name": "good", "event": {"ticket_id": "T-2", "tenant_id": "a", "body": "x"}, "assert": {"reason": "other"}, "expect_fail": true, "expect_fail_reason": "claimed bad, is not"}`,
	})
	model := eval.Tap(modelFunc(func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{Text: draft("other"), FinishReason: "stop"}, nil
	}))
	status := func(rep *eval.Report) string {
		var s []string
		for _, r := range rep.Results {
			s = append(s, r.Case+"="+string(r.Status))
		}
		return strings.Join(s, " ")
	}
	rep := eval.Run(testCtx(t), cases, &pipeline.Pipeline{Model: model}, prompt(t), eval.Options{Recorded: true})
	if got := status(rep); got != "bad=xfail good=xpass" {
		t.Errorf("recorded: %s", got)
	}
	if rep.Gate(1) == nil {
		t.Error("an unexpected pass did not fail the gate")
	}
	rep = eval.Run(testCtx(t), cases, &pipeline.Pipeline{Model: model}, prompt(t), eval.Options{})
	if got := status(rep); got != "bad=fail good=pass" {
		t.Errorf("live: %s", got)
	}
}

func TestRecordedModel(t *testing.T) {
	dir := t.TempDir()
	rec := `{"case": "c", "prompt_version": "v1", "prompt_hash": "sha256:000000000000", "answers": [
		{"text": "not json", "usage": {"input_tokens": 10, "output_tokens": 2}},
		{"error": "rate_limited", "usage": {"input_tokens": 0, "output_tokens": 0}},
		{"model": "gpt-x", "provider": "openai", "text": "{}", "finish_reason": "length", "usage": {"input_tokens": 1, "output_tokens": 700}}]}`
	if err := os.WriteFile(filepath.Join(dir, "c.json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := eval.LoadRecordings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if stale := r.Stale(prompt(t)); len(stale) != 1 || stale[0] != "c" {
		t.Errorf("Stale = %v, want [c]", stale)
	}
	ctx := eval.WithCase(testCtx(t), "c")
	if eval.CaseName(ctx) != "c" {
		t.Fatalf("CaseName = %q", eval.CaseName(ctx))
	}
	resp, err := r.Complete(ctx, pipeline.Request{})
	if err != nil || resp.Text != "not json" || resp.Model != eval.RecordedName || resp.FinishReason != "stop" || resp.InputTokens != 10 {
		t.Errorf("call 1 = %+v, %v", resp, err)
	}
	if _, err := r.Complete(ctx, pipeline.Request{}); pipeline.CodeOf(err) != pipeline.CodeRateLimited {
		t.Errorf("call 2 err = %v, want rate_limited", err)
	}
	resp, err = r.Complete(ctx, pipeline.Request{})
	if err != nil || resp.Model != "gpt-x" || resp.Provider != "openai" || resp.FinishReason != "length" {
		t.Errorf("call 3 = %+v, %v", resp, err)
	}
	var me *pipeline.ModelError
	if _, err := r.Complete(ctx, pipeline.Request{}); !errors.As(err, &me) || me.Code != pipeline.CodeInternal || !strings.Contains(me.Detail, "3 answers") {
		t.Errorf("call 4 err = %v, want internal: past the recording", err)
	}
	if _, err := r.Complete(eval.WithCase(testCtx(t), "nope"), pipeline.Request{}); pipeline.CodeOf(err) != pipeline.CodeInternal {
		t.Errorf("unknown case err = %v, want internal", err)
	}
	if _, err := r.Complete(testCtx(t), pipeline.Request{}); pipeline.CodeOf(err) != pipeline.CodeInternal {
		t.Errorf("no case err = %v, want internal", err)
	}
}

// Record writes what the model said and keeps what people wrote; the
// recorded model then answers the same.
func TestRecordThenReplay(t *testing.T) {
	cases := loadDir(t, map[string]string{
		"a": `{"name": "a", "event": {"ticket_id": "T-1", "tenant_id": "a", "body": "parcel"}, "assert": {"reason": "shipping"}}`,
		"b": `{"name": "b", "event": {"ticket_id": "T-2", "tenant_id": "a", "body": "x"}, "assert": {"reason": "other"}}`,
		"c": `{"name": "c", "event": {"ticket_id": "T-3", "tenant_id": "a", "body": ""}, "assert": {"outcome": "invalid_input", "error_detail": "invalid_field:body"}}`,
	})
	dir := t.TempDir()
	kept := `{"case": "b", "prompt_version": "v0", "prompt_hash": "sha256:000000000000", "hand_edited": "written by hand", "answers": [{"text": ` +
		strings.ReplaceAll(jsonString(draft("other")), "\n", "") + `, "usage": {"input_tokens": 0, "output_tokens": 0}}]}`
	if err := os.WriteFile(filepath.Join(dir, "b.json"), []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	live := eval.Tap(modelFunc(func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{Text: draft("shipping"), Model: "live", FinishReason: "stop", InputTokens: 7}, nil
	}))
	p := prompt(t)
	rep := eval.Run(testCtx(t), cases, &pipeline.Pipeline{Model: live}, p, eval.Options{Parallel: 2})
	written, keptN, err := eval.Record(dir, rep)
	if err != nil || written != 2 || keptN != 1 {
		t.Fatalf("Record = %d written, %d kept, %v; want 2, 1", written, keptN, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "b.json"))
	if err != nil || string(raw) != kept {
		t.Errorf("the hand-edited recording changed: %s", raw)
	}
	rec, err := eval.LoadRecordings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := rec.Recording("a"); a.PromptHash != p.Hash || len(a.Answers) != 1 || a.Answers[0].Model != "live" || a.Answers[0].Usage.InputTokens != 7 {
		t.Errorf("recording a = %+v", a)
	}
	if c, _ := rec.Recording("c"); len(c.Answers) != 0 {
		t.Errorf("a case with no model call recorded %d answers", len(c.Answers))
	}
	replay := eval.Run(testCtx(t), cases, &pipeline.Pipeline{Model: eval.Tap(rec)}, p, eval.Options{Recorded: true})
	if err := replay.Gate(1); err != nil {
		t.Errorf("replay: %v", err)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
