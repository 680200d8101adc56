package prompts

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestFastOutputAgrees checks CheckOutput's fast path on every embedded
// prompt: it compiles, takes a valid answer, and accepts only answers the
// JSON Schema validator accepts, for every property replaced by values on
// both sides of each constraint.
func TestFastOutputAgrees(t *testing.T) {
	set, err := Load(Embedded)
	if err != nil {
		t.Fatal(err)
	}
	values := []any{nil, "", "x", "other", "billing_refund", "Billing_refund", "a\nb", "\u00e9", strings.Repeat("é", 4000),
		strings.Repeat("x", 4001), 0, -1, 1, 0.5, 1.5, json.Number("1.0"), json.Number("1.0000000000000000001"),
		json.Number("-0.0"), json.Number("1e0"), true, false, map[string]any{}, []any{}, 3}
	for _, p := range set.All() {
		t.Run(p.Task+"/"+p.Version, func(t *testing.T) {
			fast := fastOutput(p.OutputSchema)
			if fast == nil {
				t.Fatal("the output schema does not compile to the fast path")
			}
			slow := func(doc []byte) bool {
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
				return err == nil && p.output.Validate(v) == nil
			}
			var schema struct {
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(p.OutputSchema, &schema); err != nil {
				t.Fatal(err)
			}
			accepted := 0
			answer, ok := validAnswers[p.Task]
			if !ok {
				t.Skipf("no valid answer of %s to mutate; add one to validAnswers", p.Task)
			}
			if !fast.Valid([]byte(answer)) || !slow([]byte(answer)) {
				t.Fatalf("a valid answer takes the slow path: %s", answer)
			}
			var base map[string]any
			if err := json.Unmarshal([]byte(answer), &base); err != nil {
				t.Fatal(err)
			}
			for _, k := range append(keysOf(schema.Properties), "extra", "Draft") {
				for _, v := range values {
					doc := map[string]any{}
					for b, bv := range base {
						doc[b] = bv
					}
					if v == nil && k != "extra" {
						delete(doc, k)
					} else {
						doc[k] = v
					}
					raw, err := json.Marshal(doc)
					if err != nil {
						t.Fatal(err)
					}
					if fast.Valid(raw) {
						accepted++
						if !slow(raw) {
							t.Fatalf("fast path accepted an answer the validator rejects: %s", raw)
						}
					}
				}
			}
			t.Logf("fast path accepted %d mutated answers, all confirmed by the validator", accepted)
		})
	}
}

// validAnswers are valid answers by task, for TestFastOutputAgrees to mutate.
var validAnswers = map[string]string{
	"support_draft": `{"draft":"Hi,\n\nwe refunded it.","confidence":0.8,"reason":"billing_refund","requires_review":true}`,
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
