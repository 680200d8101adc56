package rules_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
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

func TestCompleteAnswersTheSchema(t *testing.T) {
	resp, err := rules.Model{}.Complete(context.Background(), pipeline.Request{Input: "refund please, I was charged twice"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != rules.Name || resp.Provider != rules.Name || resp.FinishReason != "stop" {
		t.Errorf("response labels = %q/%q/%q, want rules/rules/stop", resp.Model, resp.Provider, resp.FinishReason)
	}
	var got struct {
		Draft          string  `json:"draft"`
		Confidence     float64 `json:"confidence"`
		Reason         string  `json:"reason"`
		RequiresReview *bool   `json:"requires_review"`
	}
	if err := json.Unmarshal([]byte(resp.Text), &got); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	if got.Draft == "" || got.Reason != rules.ReasonBillingRefund || got.Confidence <= 0 || got.Confidence > 1 || got.RequiresReview == nil {
		t.Errorf("answer = %+v", got)
	}
}

func TestCompleteHonoursCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (rules.Model{}).Complete(ctx, pipeline.Request{Input: "x"}); err == nil {
		t.Error("Complete on a canceled context succeeded")
	}
}
