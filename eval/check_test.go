package eval_test

import (
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/eval"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func ptr[T any](v T) *T { return &v }

// Every assertion, once where it holds and once where it does not.
func TestAssertionsCheck(t *testing.T) {
	ticket := schemas.TicketCreated{TicketID: "T-1", TenantID: "acme", Subject: "Card",
		Body: "My card 4111 1111 1111 1111 was charged. Call +44 20 7946 0958 or mail jane.doe@example.org."}
	ready := func(text, reason string, conf float64, review bool) pipeline.Outcome {
		return pipeline.Outcome{Ready: true, Answer: pipeline.Answer{"draft": text, "reason": reason, "confidence": conf, "requires_review": review},
			Model: "m", Provider: "p", PromptVersion: "v1", Fallback: schemas.FallbackNone}
	}
	good := ready("Thanks, our billing team will look at the charge.", "billing_refund", 0.8, true)
	failed := pipeline.Outcome{Code: pipeline.CodeInvalidOutput, Detail: "not a JSON document", PromptVersion: "v1"}
	tests := []struct {
		name     string
		assert   eval.Assertions
		outcome  pipeline.Outcome
		answers  []string
		failing  string // the one check that must fail; "" for none
		detailIn string
	}{
		{"ready by default", eval.Assertions{}, good, nil, "", ""},
		{"outcome wrong", eval.Assertions{}, failed, nil, "outcome", "got invalid_output (not a JSON document)"},
		{"failure expected", eval.Assertions{Outcome: "invalid_output", ErrorDetail: "not a JSON document"}, failed, nil, "", ""},
		{"error detail wrong", eval.Assertions{Outcome: "invalid_output", ErrorDetail: "empty_body"}, failed, nil, "error_detail", `want "empty_body"`},
		{"reason", eval.Assertions{Reason: "billing_refund"}, good, nil, "", ""},
		{"reason wrong", eval.Assertions{Reason: "shipping"}, good, nil, "reason", "got billing_refund, want shipping"},
		{"reason_in", eval.Assertions{ReasonIn: []string{"shipping", "billing_refund"}}, good, nil, "", ""},
		{"reason_in wrong", eval.Assertions{ReasonIn: []string{"shipping", "other"}}, good, nil, "reason_in", "want one of shipping, other"},
		{"draft_contains ignores case", eval.Assertions{DraftContains: []string{"BILLING team"}}, good, nil, "", ""},
		{"draft_contains missing", eval.Assertions{DraftContains: []string{"billing", "refund"}}, good, nil, "draft_contains", `lacks "refund"`},
		{"draft_not_contains", eval.Assertions{DraftNotContains: []string{"https://"}}, good, nil, "", ""},
		{"draft_not_contains found", eval.Assertions{DraftNotContains: []string{"Charge"}}, good, nil, "draft_not_contains", `has "Charge"`},
		{"max_length", eval.Assertions{MaxLength: 100}, good, nil, "", ""},
		{"max_length over", eval.Assertions{MaxLength: 10}, good, nil, "max_length", "at most 10"},
		{"confidence range", eval.Assertions{ConfidenceMin: ptr(0.5), ConfidenceMax: ptr(0.9)}, good, nil, "", ""},
		{"confidence under", eval.Assertions{ConfidenceMin: ptr(0.9)}, good, nil, "confidence_min", "at least 0.9"},
		{"confidence over", eval.Assertions{ConfidenceMax: ptr(0.5)}, good, nil, "confidence_max", "at most 0.5"},
		{"requires_review", eval.Assertions{RequiresReview: ptr(true)}, good, nil, "", ""},
		{"requires_review wrong", eval.Assertions{RequiresReview: ptr(false)}, good, nil, "requires_review", "got true, want false"},
		{"draft assertion without a draft", eval.Assertions{Outcome: "invalid_output", Reason: "other"}, failed, nil, "reason", "no draft (outcome invalid_output)"},
		{"no pii", eval.Assertions{NoRawPII: true}, good, nil, "", ""},
		{"pii: card, spaced otherwise", eval.Assertions{NoRawPII: true}, ready("We charged 4111-1111-1111-1111.", "other", 0.5, true), nil, "no_raw_pii", "card number"},
		{"pii: phone", eval.Assertions{NoRawPII: true}, ready("We'll call +44 (20) 7946-0958 today.", "other", 0.5, true), nil, "no_raw_pii", "phone number"},
		{"pii: email", eval.Assertions{NoRawPII: true}, ready("We wrote to Jane.Doe@example.org.", "other", 0.5, true), nil, "no_raw_pii", "email address"},
		{"pii: other numbers are fine", eval.Assertions{NoRawPII: true}, ready("Invoice 2025 is fine.", "other", 0.5, true), nil, "", ""},
		{"no canary", eval.Assertions{NoCanary: true}, good, []string{`{"draft":"hi"}`}, "", ""},
		{"canary in a rejected answer", eval.Assertions{NoCanary: true, Outcome: "unsafe_content"}, pipeline.Outcome{Code: pipeline.CodeUnsafeContent, Detail: "canary"}, []string{`{"draft":"ref gw-canary-1"}`}, "no_canary", "canary"},
		{"canary in the draft", eval.Assertions{NoCanary: true}, ready("ref GW-CANARY-1", "other", 0.5, false), nil, "no_canary", "canary"},
		{"schema: a draft event that breaks the contract", eval.Assertions{}, ready("hi", "other", 1.5, false), nil, "schema_valid", "confidence"},
		{"schema: dead letters publish nothing", eval.Assertions{Outcome: "invalid_input"}, pipeline.Outcome{Code: pipeline.CodeInvalidInput, Detail: "invalid_json"}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := ticket
			if tt.name == "schema: dead letters publish nothing" {
				tk = schemas.TicketCreated{}
			}
			var answers []eval.Answer
			for _, a := range tt.answers {
				answers = append(answers, eval.Answer{Text: a})
			}
			checks := tt.assert.Check(eval.Observed{Task: schemas.TaskSupportDraft, EventID: "e-1", Ticket: tk, Outcome: tt.outcome, Answers: answers, Canary: "GW-CANARY-1"})
			if checks[0].Name != "schema_valid" {
				t.Errorf("first check %s, want schema_valid", checks[0].Name)
			}
			expectFailing(t, checks, tt.failing, tt.detailIn)
		})
	}
}

// The assertions on any field, on a triage answer: once where each holds
// and once where it does not.
func TestFieldAssertionsCheck(t *testing.T) {
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("triage", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.RegisterResult(schemas.TaskTriage, p.OutputSchema); err != nil {
		t.Fatal(err)
	}
	ticket := schemas.TicketCreated{TicketID: "T-1", TenantID: "acme", Body: "Charged twice, call me on +44 20 7946 0958"}
	triaged := func(department string, labels ...any) pipeline.Outcome {
		return pipeline.Outcome{Ready: true, Answer: pipeline.Answer{"department": department, "priority": "high",
			"labels": labels, "confidence": 0.8, "requires_review": false},
			Model: "m", Provider: "p", PromptVersion: "v1", Fallback: schemas.FallbackNone}
	}
	good := triaged("billing", "refund", "double-charge")
	tests := []struct {
		name     string
		assert   eval.Assertions
		outcome  pipeline.Outcome
		failing  string
		detailIn string
	}{
		{"equals", eval.Assertions{Equals: map[string]any{"department": "billing", "priority": "high"}}, good, "", ""},
		{"equals wrong", eval.Assertions{Equals: map[string]any{"department": "sales"}}, good, "equals department", "got billing, want sales"},
		{"equals a missing field", eval.Assertions{Equals: map[string]any{"team": "x"}}, good, "equals team", "got nothing"},
		{"one_of", eval.Assertions{OneOf: map[string][]any{"priority": {"high", "urgent"}}}, good, "", ""},
		{"one_of wrong", eval.Assertions{OneOf: map[string][]any{"priority": {"low", "normal"}}}, good, "one_of priority", "want one of"},
		{"contains", eval.Assertions{Contains: map[string][]string{"labels": {"refund"}}}, good, "", ""},
		{"contains missing", eval.Assertions{Contains: map[string][]string{"labels": {"refund", "urgent"}}}, good, "contains labels", `lacks "urgent"`},
		{"not_contains", eval.Assertions{NotContains: map[string][]string{"labels": {"urgent"}}}, good, "", ""},
		{"not_contains found", eval.Assertions{NotContains: map[string][]string{"labels": {"refund"}}}, good, "not_contains labels", `has "refund"`},
		{"no pii in labels", eval.Assertions{NoRawPII: true}, triaged("billing", "442079460958"), "no_raw_pii", "phone number"},
		{"schema: a department out of the enum", eval.Assertions{}, triaged("legal"), "schema_valid", "department"},
		{"field assertion without an answer", eval.Assertions{Outcome: "invalid_output", Equals: map[string]any{"department": "billing"}},
			pipeline.Outcome{Code: pipeline.CodeInvalidOutput, Detail: "x"}, "equals department", "no draft"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := tt.assert.Check(eval.Observed{Task: schemas.TaskTriage, EventID: "e-1", Ticket: ticket, Outcome: tt.outcome})
			expectFailing(t, checks, tt.failing, tt.detailIn)
		})
	}
}

// expectFailing wants failing to be the one check that failed ("" for
// none), with detailIn in its detail.
func expectFailing(t *testing.T, checks []eval.Check, failing, detailIn string) {
	t.Helper()
	var failed []string
	for _, c := range checks {
		if !c.Pass {
			failed = append(failed, c.Name)
			if !strings.Contains(c.Detail, detailIn) {
				t.Errorf("%s detail %q, want it to mention %q", c.Name, c.Detail, detailIn)
			}
		}
	}
	if strings.Join(failed, ",") != failing {
		t.Errorf("failing checks %v, want %q (checks %v)", failed, failing, checks)
	}
}
