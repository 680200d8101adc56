package schemas_test

import (
	"encoding/json"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Fully populated sample data of every event type.
var (
	sampleCreated = schemas.TicketCreated{
		TicketID: "T-1001", TenantID: "acme", Body: "I was charged twice.",
		Subject: "Double charge", CustomerTier: "pro", ProductArea: "billing",
		Language: "en", Channel: "email",
	}
	sampleReady = schemas.DraftReady{
		TicketID: "T-1001", TenantID: "acme", SourceEventID: "evt-1",
		Task: "support_draft", Draft: "Hi Maria, ...", Confidence: 0.82,
		Reason: "refund policy applies", RequiresReview: true,
		Model: "gpt-4o-mini", Provider: "openai", PromptVersion: "v1",
		Usage:        schemas.Usage{InputTokens: 812, OutputTokens: 143},
		CostMicroUSD: 208, LatencyMS: 1530, Attempts: 2,
		Fallback: schemas.FallbackModel, ReplayID: "replay-7",
	}
	sampleFailed = schemas.DraftFailed{
		TicketID: "T-1001", TenantID: "acme", SourceEventID: "evt-1",
		Task: "support_draft", ErrorCode: "rate_limited",
		ErrorDetail: "provider returned 429", Retryable: true,
		Model: "gpt-4o-mini", PromptVersion: "v1", Attempts: 3,
		LatencyMS: 9000, ReplayID: "",
	}
	sampleTriaged = schemas.Triaged{
		TicketID: "T-1001", TenantID: "acme", SourceEventID: "evt-1",
		Task: "triage", Department: "billing", Priority: "high",
		Labels: []string{"refund", "double-charge"}, Confidence: 0.86,
		Model: "gpt-4o-mini", Provider: "openai", PromptVersion: "v1",
		Usage:        schemas.Usage{InputTokens: 415, OutputTokens: 30},
		CostMicroUSD: 80, LatencyMS: 640, Attempts: 1,
		Fallback: schemas.FallbackNone, ReplayID: "",
	}
	sampleTriageFailed = schemas.DraftFailed{
		TicketID: "T-1001", TenantID: "acme", SourceEventID: "evt-1",
		Task: "triage", ErrorCode: "invalid_output",
		ErrorDetail: "does not match the output schema", Model: "gpt-4o-mini",
		PromptVersion: "v1", Attempts: 2, LatencyMS: 900,
	}
	sampleCost = schemas.Cost{
		CallID: "call-1", SourceEventID: "evt-1", Task: "support_draft",
		TenantID: "acme", Provider: "openai", Model: "gpt-4o-mini",
		PromptVersion: "v1", InputTokens: 812, OutputTokens: 143,
		CostMicroUSD: 208, LatencyMS: 1200, Outcome: "ok",
	}
	sampleSent = schemas.ReplySent{
		TicketID: "T-1001", TenantID: "acme", FinalText: "Hi Maria, refunded.",
		DraftEventID: "evt-2",
	}
)

// samples maps every event type to its sample data.
var samples = map[string]any{
	schemas.TypeTicketCreated: sampleCreated,
	schemas.TypeDraftReady:    sampleReady,
	schemas.TypeDraftFailed:   sampleFailed,
	schemas.TypeCost:          sampleCost,
	schemas.TypeReplySent:     sampleSent,
	schemas.TypeTriaged:       sampleTriaged,
	schemas.TypeTriageFailed:  sampleTriageFailed,
}

// mustJSON marshals v or fails the test.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// envelopeMap is a valid envelope of ticket.created as a map, for tests to
// edit before marshalling.
func envelopeMap() map[string]any {
	return map[string]any{
		"specversion":     "1.0",
		"id":              "evt-1",
		"source":          "/product",
		"type":            schemas.TypeTicketCreated,
		"time":            "2025-03-01T12:00:00.123Z",
		"datacontenttype": "application/json",
		"dataschema":      schemas.SchemaURL(schemas.TypeTicketCreated),
		"traceparent":     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"data": map[string]any{
			"ticket_id": "T-1001",
			"tenant_id": "acme",
			"body":      "I was charged twice.",
		},
	}
}

// with returns envelopeMap with the top-level key set to v (or deleted if
// v is del).
func with(key string, v any) map[string]any {
	m := envelopeMap()
	if v == del {
		delete(m, key)
	} else {
		m[key] = v
	}
	return m
}

// withData returns envelopeMap with the data key set to v (or deleted).
func withData(key string, v any) map[string]any {
	m := envelopeMap()
	d := m["data"].(map[string]any)
	if v == del {
		delete(d, key)
	} else {
		d[key] = v
	}
	return m
}

type deleted struct{}

// del deletes a key in with and withData.
var del any = deleted{}
