package schemas_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// The ticket.triaged contract file is what RegisterResult would make of
// the triage prompt's output schema: a change to either must change both.
func TestTriagedFileMatchesThePrompt(t *testing.T) {
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get(schemas.TaskTriage.Name, "")
	if err != nil {
		t.Fatal(err)
	}
	made, err := schemas.ResultSchema(schemas.TypeTriaged, p.OutputSchema)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(schemas.TypeTriaged + ".v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if err := json.Unmarshal(made, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(file, &b); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []map[string]any{a, b} {
		stripDescriptions(doc)
		delete(doc, "title")
		req := doc["required"].([]any)
		slices.SortFunc(req, func(x, y any) int { return strings.Compare(x.(string), y.(string)) })
	}
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", "  ")
		jb, _ := json.MarshalIndent(b, "", "  ")
		t.Errorf("ticket.triaged.v1.json differs from the schema made of prompts/triage's output schema:\nmade: %s\nfile: %s", ja, jb)
	}
}

func stripDescriptions(v any) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "description")
		for _, e := range x {
			stripDescriptions(e)
		}
	case []any:
		for _, e := range x {
			stripDescriptions(e)
		}
	}
}

// A ready type without a file gets a schema made of the task's output
// schema; one that redefines a field every result carries is refused.
func TestRegisterResult(t *testing.T) {
	summary := schemas.Task{Name: "summary", Trigger: schemas.TypeTicketCreated, Consumer: "ghostwriter-summary",
		Ready: "ticket.summary_ready", Failed: "ticket.summary_failed"}
	output := json.RawMessage(`{"type":"object","additionalProperties":false,"required":["summary"],"properties":{"summary":{"type":"string","minLength":1}}}`)
	if err := schemas.RegisterResult(summary, output); err != nil {
		t.Fatal(err)
	}
	if err := schemas.RegisterResult(summary, output); err != nil {
		t.Errorf("registering the same schema again: %v", err)
	}
	good := map[string]any{"ticket_id": "T-1", "tenant_id": "acme", "source_event_id": "e-1", "task": "summary",
		"summary": "Charged twice.", "requires_review": false, "model": "m", "provider": "p", "prompt_version": "v1",
		"usage": map[string]any{"input_tokens": 1, "output_tokens": 1}, "cost_microusd": 0, "latency_ms": 1, "attempts": 1,
		"fallback": "none", "replay_id": ""}
	if err := schemas.Validate("ticket.summary_ready", mustJSON(t, good)); err != nil {
		t.Errorf("a good summary: %v", err)
	}
	for name, edit := range map[string]func(map[string]any){
		"no summary":      func(m map[string]any) { delete(m, "summary") },
		"an empty one":    func(m map[string]any) { m["summary"] = "" },
		"an extra field":  func(m map[string]any) { m["mood"] = "sad" },
		"no result field": func(m map[string]any) { delete(m, "model") },
	} {
		bad := map[string]any{}
		for k, v := range good {
			bad[k] = v
		}
		edit(bad)
		if err := schemas.Validate("ticket.summary_ready", mustJSON(t, bad)); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
	failed := mustJSON(t, sampleTriageFailed)
	if err := schemas.Validate("ticket.summary_failed", failed); err != nil {
		t.Errorf("a failed event: %v", err)
	}
	other := json.RawMessage(`{"type":"object","required":["summary"],"properties":{"summary":{"type":"string"},"x":{"type":"string"}}}`)
	if err := schemas.RegisterResult(summary, other); err == nil {
		t.Error("the same ready type with another schema was accepted")
	}
	clash := json.RawMessage(`{"type":"object","properties":{"model":{"type":"integer"}}}`)
	if err := schemas.RegisterResult(schemas.Task{Name: "clash", Trigger: schemas.TypeTicketCreated, Consumer: "c",
		Ready: "ticket.clash_ready", Failed: "ticket.clash_failed"}, clash); err == nil || !strings.Contains(err.Error(), "model") {
		t.Errorf("an output schema redefining model: %v", err)
	}
}
