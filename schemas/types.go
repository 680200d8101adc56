package schemas

import (
	"encoding/json"
	"time"
)

// SpecVersion is the CloudEvents version of every envelope.
const SpecVersion = "1.0"

// Envelope is a CloudEvents 1.0 JSON envelope. Data holds the raw JSON of
// the payload, whose schema is chosen by Type.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	TraceParent     string          `json:"traceparent,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// TicketCreated is the data of ticket.created, published by the product.
type TicketCreated struct {
	TicketID     string `json:"ticket_id"`
	TenantID     string `json:"tenant_id"`
	Body         string `json:"body"`
	Subject      string `json:"subject,omitempty"`
	CustomerTier string `json:"customer_tier,omitempty"`
	ProductArea  string `json:"product_area,omitempty"`
	Language     string `json:"language,omitempty"`
	Channel      string `json:"channel,omitempty"`
}

// Usage counts the tokens of one or more model calls.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// Fallback says which step of the fallback chain produced a result.
const (
	FallbackNone  = "none"
	FallbackModel = "model"
	FallbackRules = "rules"
	FallbackCache = "cache"
)

// DraftReady is the data of ticket.draft_ready.
type DraftReady struct {
	TicketID       string  `json:"ticket_id"`
	TenantID       string  `json:"tenant_id"`
	SourceEventID  string  `json:"source_event_id"`
	Task           string  `json:"task"`
	Draft          string  `json:"draft"`
	Confidence     float64 `json:"confidence"`
	Reason         string  `json:"reason"`
	RequiresReview bool    `json:"requires_review"`
	Model          string  `json:"model"`
	Provider       string  `json:"provider"`
	Route          string  `json:"route,omitempty"`
	PromptVersion  string  `json:"prompt_version"`
	PromptHash     string  `json:"prompt_hash,omitempty"`
	Usage          Usage   `json:"usage"`
	CostMicroUSD   int64   `json:"cost_microusd"`
	LatencyMS      int64   `json:"latency_ms"`
	Attempts       int     `json:"attempts"`
	Fallback       string  `json:"fallback"`
	ReplayID       string  `json:"replay_id"`
}

// Triaged is the data of ticket.triaged: the triage task's answer and
// what every result carries.
type Triaged struct {
	TicketID       string   `json:"ticket_id"`
	TenantID       string   `json:"tenant_id"`
	SourceEventID  string   `json:"source_event_id"`
	Task           string   `json:"task"`
	Department     string   `json:"department"`
	Priority       string   `json:"priority"`
	Labels         []string `json:"labels"`
	Confidence     float64  `json:"confidence"`
	RequiresReview bool     `json:"requires_review"`
	Model          string   `json:"model"`
	Provider       string   `json:"provider"`
	Route          string   `json:"route,omitempty"`
	PromptVersion  string   `json:"prompt_version"`
	PromptHash     string   `json:"prompt_hash,omitempty"`
	Usage          Usage    `json:"usage"`
	CostMicroUSD   int64    `json:"cost_microusd"`
	LatencyMS      int64    `json:"latency_ms"`
	Attempts       int      `json:"attempts"`
	Fallback       string   `json:"fallback"`
	ReplayID       string   `json:"replay_id"`
}

// DraftFailed is the data of ticket.draft_failed. ErrorCode is one of the
// closed set in DESIGN.md; ErrorDetail is short and never holds ticket text.
type DraftFailed struct {
	TicketID      string `json:"ticket_id"`
	TenantID      string `json:"tenant_id"`
	SourceEventID string `json:"source_event_id"`
	Task          string `json:"task"`
	ErrorCode     string `json:"error_code"`
	ErrorDetail   string `json:"error_detail"`
	Retryable     bool   `json:"retryable"`
	Model         string `json:"model"`
	Route         string `json:"route,omitempty"`
	PromptVersion string `json:"prompt_version"`
	PromptHash    string `json:"prompt_hash,omitempty"`
	Attempts      int    `json:"attempts"`
	LatencyMS     int64  `json:"latency_ms"`
	ReplayID      string `json:"replay_id"`
}

// Cost is the data of ai.cost: one per model call. Money is integer
// micro-dollars.
type Cost struct {
	CallID        string `json:"call_id"`
	SourceEventID string `json:"source_event_id"`
	Task          string `json:"task"`
	TenantID      string `json:"tenant_id"`
	Provider      string `json:"provider"`
	Model         string `json:"model"`
	PromptVersion string `json:"prompt_version"`
	PromptHash    string `json:"prompt_hash,omitempty"`
	InputTokens   int    `json:"input_tokens"`
	OutputTokens  int    `json:"output_tokens"`
	// CachedInputTokens is the part of InputTokens the provider served
	// from its prompt cache; ReasoningTokens the part of OutputTokens
	// spent on hidden reasoning. Zero when the provider does not say.
	CachedInputTokens int    `json:"cached_input_tokens,omitempty"`
	ReasoningTokens   int    `json:"reasoning_tokens,omitempty"`
	CostMicroUSD      int64  `json:"cost_microusd"`
	LatencyMS         int64  `json:"latency_ms"`
	Outcome           string `json:"outcome"`
}

// ReplySent is the data of ticket.reply_sent, published by the product when
// a human sends the final reply.
type ReplySent struct {
	TicketID     string `json:"ticket_id"`
	TenantID     string `json:"tenant_id"`
	FinalText    string `json:"final_text"`
	DraftEventID string `json:"draft_event_id,omitempty"`
}
