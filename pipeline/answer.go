package pipeline

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Answer is a validated structured answer: the JSON object the prompt's
// output schema describes, numbers as float64 and lists as []any, with
// the ticket's personal data restored. After Run, its requires_review is
// always set: the model's own flag, or true when the pipeline wants a
// human to look.
type Answer map[string]any

// Field names the pipeline reads in any task's answer.
const (
	FieldConfidence     = "confidence"
	FieldRequiresReview = "requires_review"
	// FieldDraft and FieldReason are support_draft's reply and label.
	FieldDraft  = "draft"
	FieldReason = "reason"
)

// Text returns a text field, "" when absent or not text.
func (a Answer) Text(field string) string {
	s, _ := a[field].(string)
	return s
}

// RequiresReview reports the answer's review flag.
func (a Answer) RequiresReview() bool {
	b, _ := a[FieldRequiresReview].(bool)
	return b
}

// Confidence returns the answer's confidence, and whether it has one.
func (a Answer) Confidence() (float64, bool) {
	f, ok := a[FieldConfidence].(float64)
	return f, ok
}

// flagReview turns requires_review on when review is; it never turns it
// off. It changes a: call it on an answer the caller owns.
func (a Answer) flagReview(review bool) {
	a[FieldRequiresReview] = a.RequiresReview() || review
}

// Texts returns every text in the answer, at any depth, sorted so that
// checks on them do not depend on map order.
func (a Answer) Texts() []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(map[string]any(a))
	slices.Sort(out)
	return out
}

// mapText returns a copy of a with every text, at any depth, replaced by
// f(text); a itself is left as it was.
func (a Answer) mapText(f func(string) string) Answer {
	var mapped func(v any) any
	mapped = func(v any) any {
		switch x := v.(type) {
		case string:
			return f(x)
		case map[string]any:
			c := make(map[string]any, len(x))
			for k, e := range x {
				c[k] = mapped(e)
			}
			return c
		case []any:
			c := make([]any, len(x))
			for i, e := range x {
				c[i] = mapped(e)
			}
			return c
		}
		return v
	}
	c, _ := mapped(map[string]any(a)).(map[string]any)
	return c
}

// decodeAnswer reads a schema-valid JSON object into an Answer.
func decodeAnswer(text string) (Answer, error) {
	var a Answer
	if err := json.Unmarshal([]byte(text), &a); err != nil || a == nil {
		return nil, &ModelError{Code: CodeInvalidOutput, Detail: "answer is not a JSON object"}
	}
	return a, nil
}

// ResultMeta is what a task's terminal event says besides the outcome:
// the input it answers, the task, the replay that asked for it, and the
// model calls of every delivery.
type ResultMeta struct {
	TicketID, TenantID, SourceEventID string
	Task, ReplayID                    string
	Attempts                          int
}

// ReadyData is the data of a task's ready event: the answer's fields,
// then those every result carries (schemas.ResultFields), which win. It
// validates against the ready type's schema (schemas.RegisterResult).
func ReadyData(m ResultMeta, out Outcome) map[string]any {
	data := make(map[string]any, len(out.Answer)+len(schemas.ResultFields))
	maps.Copy(data, out.Answer)
	data["ticket_id"], data["tenant_id"], data["source_event_id"] = m.TicketID, m.TenantID, m.SourceEventID
	data["task"], data["replay_id"], data["attempts"] = m.Task, m.ReplayID, m.Attempts
	data[FieldRequiresReview] = out.Answer.RequiresReview()
	data["model"], data["provider"], data["fallback"] = out.Model, out.Provider, out.Fallback
	data["prompt_version"] = out.PromptVersion
	data["usage"], data["cost_microusd"] = out.Usage, out.CostMicroUSD
	data["latency_ms"] = out.Latency.Milliseconds()
	setIf(data, "route", out.Route)
	setIf(data, "prompt_hash", out.PromptHash)
	return data
}

func setIf(data map[string]any, key, value string) {
	if value != "" {
		data[key] = value
	}
}

// FailedData is the data of a task's failed event.
func FailedData(m ResultMeta, out Outcome) schemas.DraftFailed {
	return schemas.DraftFailed{
		TicketID: m.TicketID, TenantID: m.TenantID, SourceEventID: m.SourceEventID, Task: m.Task,
		ErrorCode: string(out.Code), ErrorDetail: out.Detail, Retryable: out.Code.Retryable(),
		Model: out.Model, Route: out.Route, PromptVersion: out.PromptVersion, PromptHash: out.PromptHash,
		Attempts: m.Attempts, LatencyMS: out.Latency.Milliseconds(), ReplayID: m.ReplayID,
	}
}
