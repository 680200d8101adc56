package pipeline

import (
	"context"
	"encoding/json"
)

// Model answers one chat request. Implementations live in subpackages
// (pipeline/openai, pipeline/rules) and must be safe for concurrent use.
//
// Complete returns a *ModelError (or an error wrapping one) whose Code is
// in the closed set, so the pipeline can tell retryable failures from
// permanent ones without knowing the provider. A response with a
// FinishReason other than "stop" is not an error at this level.
type Model interface {
	Complete(ctx context.Context, req Request) (Response, error)
}

// Message is one chat message.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// Request is one model call.
type Request struct {
	// Model is the provider's model name; empty means the client's default.
	Model       string
	Messages    []Message
	Temperature float32
	MaxTokens   int
	// SchemaName and Schema ask for structured output (response_format
	// json_schema, strict). Schema is a JSON Schema document.
	SchemaName string
	Schema     json.RawMessage
	// TenantID names whose budget pays for the call; models ignore it.
	TenantID string
	// Input is the cleaned ticket text the messages were rendered from.
	// Offline models that cannot read a prompt classify it instead; network
	// models ignore it.
	Input string
}

// Response is a model's answer.
type Response struct {
	Text string
	// Model and Provider name what actually answered, for the events.
	Model        string
	Provider     string
	InputTokens  int
	OutputTokens int
	// CachedInputTokens is the part of InputTokens served from the
	// provider's prompt cache; ReasoningTokens the part of OutputTokens
	// spent on hidden reasoning. Zero when the provider does not say.
	CachedInputTokens int
	ReasoningTokens   int
	// FinishReason is "stop", "length", "content_filter" and so on.
	FinishReason string
	// RateLimit is what the provider said of its remaining budget.
	RateLimit RateLimit
}
