package eval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/eval"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

// A baseline run and a current one over the same cases, compared, printed
// as a table (with latencies zeroed, so the golden file is stable) and
// as JSON.
func TestReportAndBaseline(t *testing.T) {
	cases := loadDir(t, map[string]string{
		"a-fixed":     `{"name": "a-fixed", "event": {"ticket_id": "T-1", "tenant_id": "a", "body": "parcel late"}, "assert": {"reason": "shipping"}}`,
		"b-broken":    `{"name": "b-broken", "event": {"ticket_id": "T-2", "tenant_id": "a", "body": "refund me"}, "assert": {"reason_in": ["billing_refund", "other"]}}`,
		"c-relabeled": `{"name": "c-relabeled", "event": {"ticket_id": "T-3", "tenant_id": "a", "body": "hello"}, "assert": {"reason_in": ["other", "account_change"]}}`,
		"d-same":      `{"name": "d-same", "event": {"ticket_id": "T-4", "tenant_id": "a", "body": ""}, "assert": {"outcome": "invalid_input"}}`,
	})
	current := prompt(t)
	good, err := prompts.Embedded.ReadFile("support_draft/v1.md")
	if err != nil {
		t.Fatal(err)
	}
	base, err := prompts.Parse("support_draft/v0.md", bytes.Replace(bytes.Replace(good, []byte("version: v1"), []byte("version: v0"), 1),
		[]byte("Write the draft reply now."), []byte("Write the draft."), 1))
	if err != nil {
		t.Fatal(err)
	}
	// The model answers by prompt: the baseline labels everything other,
	// the current prompt gets shipping right and billing wrong.
	model := eval.Tap(modelFunc(func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
		reason := "other"
		if strings.Contains(req.Messages[1].Content, "Write the draft reply now.") {
			switch {
			case strings.Contains(req.Input, "parcel"):
				reason = "shipping"
			case strings.Contains(req.Input, "refund"):
				reason = "shipping"
			default:
				reason = "account_change"
			}
		}
		return pipeline.Response{Text: draft(reason), FinishReason: "stop", InputTokens: 1000, OutputTokens: 100}, nil
	}))
	p := &pipeline.Pipeline{Model: model, DefaultModel: "gpt-4o-mini", Prices: map[string]pipeline.Price{"gpt-4o-mini": {InputPerMTok: 150_000, OutputPerMTok: 600_000}}}
	opts := eval.Options{Parallel: 2, Model: "test-model"}
	was := eval.Run(testCtx(t), cases, p, base, opts)
	rep := eval.Run(testCtx(t), cases, p, current, opts)
	rep.Compare(was)

	kinds := map[string]string{}
	for _, c := range rep.Changes {
		kinds[c.Case] = c.Kind
	}
	if len(kinds) != 3 || kinds["a-fixed"] != "better" || kinds["b-broken"] != "worse" || kinds["c-relabeled"] != "changed" {
		t.Errorf("changes %+v", rep.Changes)
	}
	if rep.Totals.CostMicroUSD != 3*(150+60) {
		t.Errorf("cost %d µ$, want 3 calls at 210", rep.Totals.CostMicroUSD)
	}

	for i := range rep.Results {
		rep.Results[i].LatencyMS = 0
	}
	rep.Totals.LatencyP50MS, rep.Totals.LatencyMaxMS = 0, 0
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, table.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./eval -update to create it)", err)
	}
	if table.String() != string(want) {
		t.Errorf("table differs from %s (rerun with -update and review the diff):\n%s", golden, table.String())
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back eval.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 4 || back.Baseline == nil || back.Baseline.PromptVersion != "v0" || len(back.Changes) != 3 ||
		back.Results[0].Trials[0].Checks[0].Name != "schema_valid" {
		t.Errorf("JSON report lost data: %s", js.String())
	}
}
