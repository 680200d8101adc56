// Package openai implements pipeline.Model over any OpenAI-compatible chat
// completions endpoint (OpenAI, Azure-style gateways, Ollama, vLLM,
// llama.cpp) using github.com/sashabaranov/go-openai.
//
// It owns one HTTP call per Complete: mapping the request, the per-call
// timeout, capturing Retry-After, and classifying every failure into the
// closed set of pipeline codes. It must not retry, validate output against
// a schema, price tokens, log prompt text, or touch NATS or Postgres: those
// belong to the pipeline and its callers.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// defaultSchemaName names a structured-output schema when Request.SchemaName
// is empty; OpenAI requires a name.
const defaultSchemaName = "response"

// Client is a pipeline.Model for one OpenAI-compatible endpoint. It is safe
// for concurrent use.
type Client struct {
	api *goopenai.Client
	cfg Config
}

var _ pipeline.Model = (*Client)(nil)

// New returns a Client for cfg after validating it and applying defaults.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("openai.new: %w", err)
	}
	cfg = cfg.withDefaults()

	hc := &http.Client{Transport: pooledTransport()}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	hc.Transport = &recordingTransport{base: hc.Transport}

	oc := goopenai.DefaultConfig(cfg.APIKey.Reveal())
	oc.BaseURL = cfg.BaseURL
	oc.HTTPClient = hc
	return &Client{api: goopenai.NewClientWithConfig(oc), cfg: cfg}, nil
}

// MaxIdleConnsPerHost is how many idle connections a Client keeps to its
// endpoint when Config.HTTPClient is nil. net/http keeps two, so workers
// calling a plain-HTTP endpoint (Ollama, vLLM, llama.cpp) with more calls
// in flight than that opened a new connection for nearly every call:
// make bench saw ten thousand sockets in TIME_WAIT after 20 seconds at
// concurrency 64, on the way to running out of ephemeral ports. HTTPS
// endpoints that speak HTTP/2 share one connection anyway.
const MaxIdleConnsPerHost = 1024

// pooledTransport is http.DefaultTransport keeping enough idle
// connections for a worker's concurrency.
func pooledTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxIdleConns = 0 // no limit across hosts; per host below
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	return t
}

// Provider returns the provider name reported in responses.
func (c *Client) Provider() string { return c.cfg.Provider }

// Complete sends req as one chat completion. Errors are *pipeline.ModelError
// wrapped with the operation name; see classify for the mapping.
func (c *Client) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	creq, err := c.chatRequest(req)
	if err != nil {
		return pipeline.Response{}, fmt.Errorf("openai.complete: %w", err)
	}

	callCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	meta := &callMeta{}
	callCtx = context.WithValue(callCtx, callMetaKey{}, meta)

	resp, err := c.api.CreateChatCompletion(callCtx, creq)
	if err != nil {
		return pipeline.Response{}, fmt.Errorf("openai.complete: %w", c.classify(ctx, callCtx, meta, err))
	}
	out, err := c.response(creq.Model, resp)
	if err != nil {
		return pipeline.Response{}, fmt.Errorf("openai.complete: %w", err)
	}
	out.RateLimit = meta.getRateLimit()
	return out, nil
}

func (c *Client) chatRequest(req pipeline.Request) (goopenai.ChatCompletionRequest, error) {
	creq := goopenai.ChatCompletionRequest{
		Model:       req.Model,
		Messages:    make([]goopenai.ChatCompletionMessage, 0, len(req.Messages)),
		Temperature: req.Temperature,
		// max_tokens, not max_completion_tokens: the widest compatibility
		// with Ollama, vLLM and llama.cpp.
		MaxTokens: req.MaxTokens,
	}
	if creq.Model == "" {
		creq.Model = c.cfg.Model
	}
	if creq.Model == "" {
		return creq, &pipeline.ModelError{Code: pipeline.CodeInternal, Detail: "no model named in the request or the client's configuration"}
	}
	for _, m := range req.Messages {
		creq.Messages = append(creq.Messages, goopenai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	if len(req.Schema) > 0 {
		// Not checked here: encoding the request validates the schema
		// (a json.RawMessage) anyway, and classify reports that failure
		// as this one was.
		name := req.SchemaName
		if name == "" {
			name = defaultSchemaName
		}
		creq.ResponseFormat = &goopenai.ChatCompletionResponseFormat{
			Type: goopenai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &goopenai.ChatCompletionResponseFormatJSONSchema{
				Name:   name,
				Schema: req.Schema,
				Strict: true,
			},
		}
	}
	// go-openai refuses max_tokens for OpenAI reasoning models (o1, o3, o4,
	// gpt-5, ...) before sending; those take max_completion_tokens.
	if err := goopenai.NewReasoningValidator().Validate(creq); errors.Is(err, goopenai.ErrReasoningModelMaxTokensDeprecated) {
		creq.MaxCompletionTokens, creq.MaxTokens = creq.MaxTokens, 0
	}
	return creq, nil
}

func (c *Client) response(requested string, resp goopenai.ChatCompletionResponse) (pipeline.Response, error) {
	if len(resp.Choices) == 0 {
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeInvalidOutput, Detail: "provider returned no choices"}
	}
	choice := resp.Choices[0]
	switch {
	case choice.Message.Refusal != "":
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeUnsafeContent, Detail: "model refused the request"}
	case choice.FinishReason == goopenai.FinishReasonContentFilter:
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeUnsafeContent, Detail: "provider content filter stopped the output"}
	}
	model := resp.Model
	if model == "" {
		model = requested
	}
	out := pipeline.Response{
		Text:         choice.Message.Content,
		Model:        model,
		Provider:     c.cfg.Provider,
		InputTokens:  resp.Usage.PromptTokens,
		OutputTokens: resp.Usage.CompletionTokens,
		FinishReason: string(choice.FinishReason),
	}
	if d := resp.Usage.PromptTokensDetails; d != nil {
		out.CachedInputTokens = d.CachedTokens
	}
	if d := resp.Usage.CompletionTokensDetails; d != nil {
		out.ReasoningTokens = d.ReasoningTokens
	}
	return out, nil
}

// String describes c without its API key.
func (c *Client) String() string {
	return fmt.Sprintf("openai.Client{provider=%s model=%s timeout=%v}", c.cfg.Provider, c.cfg.Model, c.cfg.Timeout)
}

// callMetaKey keys the *callMeta that recordingTransport fills in.
type callMetaKey struct{}

// callMeta carries what go-openai's values drop: response headers.
// The transport writes it during the call; Complete and classify read it
// afterwards.
type callMeta struct {
	retryAfter atomic.Int64 // time.Duration
	mu         sync.Mutex
	rateLimit  pipeline.RateLimit
}

func (m *callMeta) setRateLimit(rl pipeline.RateLimit) {
	m.mu.Lock()
	m.rateLimit = rl
	m.mu.Unlock()
}

func (m *callMeta) getRateLimit() pipeline.RateLimit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rateLimit
}
