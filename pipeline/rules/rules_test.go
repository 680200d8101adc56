package rules_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"refund", "I was charged twice, please refund me", rules.ReasonBillingRefund},
		{"german invoice", "Die Rechnung ist falsch, bitte um Erstattung", rules.ReasonBillingRefund},
		{"login", "I can't log in, the password reset link expired", rules.ReasonLoginAccess},
		{"french login", "Je n'arrive pas à me connecter, mot de passe oublié", rules.ReasonLoginAccess},
		{"bug", "The app crashes with an error 500 and a stack trace", rules.ReasonBugReport},
		{"shipping", "My package has not arrived, tracking says in transit", rules.ReasonShipping},
		{"spanish shipping", "Mi paquete no ha llegado, la entrega se retrasa", rules.ReasonShipping},
		{"account", "Please delete my account", rules.ReasonAccountChange},
		{"word prefix only", "Here is an explanation of nothing much", rules.ReasonOther},
		{"nothing", "hello", rules.ReasonOther},
		{"empty", "", rules.ReasonOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := rules.Classify(tt.text); got != tt.want {
				t.Errorf("Classify(%q) = %s, want %s", tt.text, got, tt.want)
			}
		})
	}
}

// TestCompleteAnswersTheSchema checks the rules model's answers against the
// output schemas of the built-in prompts that it claims to answer.
func TestCompleteAnswersTheSchema(t *testing.T) {
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		task, input string
		want        map[string]any
	}{
		{"support_draft", "refund please, I was charged twice", map[string]any{"reason": rules.ReasonBillingRefund}},
		{"triage", "refund please, I was charged twice", map[string]any{"department": "billing", "priority": "high"}},
		{"triage", "Everything is down for all users since 9:00, error 500", map[string]any{"department": "technical", "priority": "urgent"}},
		{"triage", "Just wanted to say thanks, great job", map[string]any{"department": "general", "priority": "low"}},
	} {
		t.Run(tt.task+"/"+tt.input, func(t *testing.T) {
			p, err := set.Get(tt.task, "")
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rules.Model{}.Complete(context.Background(), pipeline.Request{Input: tt.input, SchemaName: p.SchemaName})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Model != rules.Name || resp.Provider != rules.Name || resp.FinishReason != "stop" {
				t.Errorf("response labels = %q/%q/%q, want rules/rules/stop", resp.Model, resp.Provider, resp.FinishReason)
			}
			if err := p.CheckOutput([]byte(resp.Text)); err != nil {
				t.Fatalf("answer %s: %v", resp.Text, err)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(resp.Text), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (answer %s)", k, got[k], v, resp.Text)
				}
			}
		})
	}
}

func TestCompleteRefusesAnUnknownSchema(t *testing.T) {
	_, err := rules.Model{}.Complete(context.Background(), pipeline.Request{Input: "x", SchemaName: "summary"})
	if pipeline.CodeOf(err) != pipeline.CodeInternal {
		t.Errorf("err = %v, want an internal error", err)
	}
}

func TestCompleteHonoursCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (rules.Model{}).Complete(ctx, pipeline.Request{Input: "x"}); err == nil {
		t.Error("Complete on a canceled context succeeded")
	}
}
