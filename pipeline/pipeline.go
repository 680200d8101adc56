package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Task is one unit of AI work: one input event, one task, one prompt.
type Task struct {
	Name     string // the task, e.g. "support_draft"
	EventID  string // the input event's id, the idempotency key
	Ticket   schemas.TicketCreated
	Prompt   *prompts.Prompt
	ReplayID string
}

// Draft is a validated structured answer.
type Draft struct {
	Text           string  `json:"draft"`
	Confidence     float64 `json:"confidence"`
	Reason         string  `json:"reason"`
	RequiresReview bool    `json:"requires_review"`
}

// Call records one model call that reached a model, for the cost event.
type Call struct {
	Model        string
	Provider     string
	InputTokens  int
	OutputTokens int
	// CachedInputTokens and ReasoningTokens are parts of the two above,
	// as the provider reported them.
	CachedInputTokens int
	ReasoningTokens   int
	CostMicroUSD      int64
	Latency           time.Duration
	// Outcome is "ok" or the error code of the call.
	Outcome string
}

// Outcome is the result of Run: ready with a Draft, or failed with a Code.
type Outcome struct {
	Ready  bool
	Draft  Draft
	Code   Code
	Detail string // short, safe to publish: never ticket text
	// RetryAfter is the delay a provider asked for before the next try.
	RetryAfter time.Duration

	Model         string
	Provider      string
	PromptVersion string
	Usage         schemas.Usage
	CostMicroUSD  int64
	Latency       time.Duration
	Attempts      int
	Fallback      string
	Calls         []Call
	// BudgetSoft is true when the tenant is over a soft budget limit:
	// the task ran, and callers should warn.
	BudgetSoft bool
}

// Retryable reports whether a failed outcome may succeed on a later try.
func (o Outcome) Retryable() bool { return !o.Ready && o.Code.Retryable() }

// Price is what a model costs, in micro-dollars per million tokens.
// CachedInputPerMTok prices input tokens served from the provider's prompt
// cache; zero means they cost as much as other input tokens.
type Price struct {
	InputPerMTok       int64
	CachedInputPerMTok int64
	OutputPerMTok      int64
}

// Cost returns the price of a call in micro-dollars, rounded up so that
// a ledger never undercounts. cachedInputTokens is the part of
// inputTokens that came from the prompt cache.
func (p Price) Cost(inputTokens, cachedInputTokens, outputTokens int) int64 {
	cached := min(max(cachedInputTokens, 0), inputTokens)
	cachedPrice := p.CachedInputPerMTok
	if cachedPrice == 0 {
		cachedPrice = p.InputPerMTok
	}
	total := int64(inputTokens-cached)*p.InputPerMTok + int64(cached)*cachedPrice + int64(outputTokens)*p.OutputPerMTok
	return (total + 999_999) / 1_000_000
}

// Pipeline runs tasks. Its fields are set once at start-up; Run is safe for
// concurrent use as long as Model is.
type Pipeline struct {
	Model Model
	// DefaultModel overrides the prompt's model name when set.
	DefaultModel string
	// CallTimeout bounds one model call inside the caller's deadline.
	CallTimeout time.Duration
	// Prices by model name; a model without a price costs 0 (logged once).
	Prices map[string]Price
	// Budget, when set, guards each model call with the tenant's budget.
	Budget Budget
	// Logger receives warnings the outcome cannot carry; nil means
	// slog.Default.
	Logger *slog.Logger
	// ReviewBelow flags drafts whose confidence is under it for review.
	ReviewBelow float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	unpriced sync.Map // model names already warned about
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Run takes a task through clean → route → render → call → validate →
// price and returns its outcome. It never panics on task data and never
// returns ticket text in Detail.
func (p *Pipeline) Run(ctx context.Context, t Task) Outcome {
	start := p.now()
	out := Outcome{PromptVersion: t.Prompt.Version, Fallback: schemas.FallbackNone}
	finish := func(code Code, detail string) Outcome {
		out.Code, out.Detail = code, detail
		out.Latency = p.now().Sub(start)
		return out
	}
	if err := ctx.Err(); err != nil {
		return finish(CodeOf(err), "task canceled before it started")
	}

	ticket := t.Ticket
	ticket.Subject = Clean(ticket.Subject)
	ticket.Body = Clean(ticket.Body)
	if ticket.Body == "" {
		return finish(CodeInvalidInput, "ticket body is empty after cleaning")
	}
	out.Model = p.route(t)
	rendered, err := t.Prompt.Render(prompts.Input{Ticket: ticket})
	if err != nil {
		return finish(CodeInternal, "prompt render failed")
	}
	req := Request{
		Model: out.Model,
		Messages: []Message{
			{Role: "system", Content: rendered.System},
			{Role: "user", Content: rendered.User},
		},
		Temperature: t.Prompt.Model.Temperature,
		MaxTokens:   t.Prompt.Model.MaxTokens,
		SchemaName:  t.Prompt.SchemaName,
		Schema:      t.Prompt.OutputSchema,
		Input:       ticket.Subject + "\n" + ticket.Body,
	}

	resp, err := p.guardedCall(ctx, t.Ticket.TenantID, req, &out)
	if err != nil {
		var me *ModelError
		if errors.As(err, &me) {
			out.RetryAfter = me.RetryAfter
		}
		return finish(CodeOf(err), detailOf(err))
	}
	switch resp.FinishReason {
	case "", "stop":
	case "length":
		return finish(CodeTruncatedOutput, fmt.Sprintf("answer cut at max_tokens=%d", req.MaxTokens))
	case "content_filter":
		return finish(CodeUnsafeContent, "provider content filter")
	}
	text := stripFence(resp.Text)
	if err := t.Prompt.CheckOutput([]byte(text)); err != nil {
		return finish(CodeInvalidOutput, err.Error())
	}
	var d Draft
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return finish(CodeInvalidOutput, "answer does not decode into a draft")
	}
	d.Text = strings.TrimSpace(d.Text)
	if d.Confidence < p.ReviewBelow {
		d.RequiresReview = true
	}
	out.Ready, out.Draft = true, d
	out.Latency = p.now().Sub(start)
	return out
}

// route picks the model for a task: the configured default, else the
// prompt's own choice.
func (p *Pipeline) route(t Task) string {
	if p.DefaultModel != "" {
		return p.DefaultModel
	}
	return t.Prompt.Model.Name
}

// call makes one model call under its own timeout and records it in out.
func (p *Pipeline) call(ctx context.Context, req Request, out *Outcome) (Response, error) {
	if p.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.CallTimeout)
		defer cancel()
	}
	start := p.now()
	resp, err := p.Model.Complete(ctx, req)
	latency := p.now().Sub(start)
	out.Attempts++
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		// A failed call still costs what the provider reports; the
		// clients report nothing on error, so nothing is billed here.
		out.Calls = append(out.Calls, Call{Model: req.Model, Latency: latency, Outcome: string(CodeOf(err))})
		return resp, err
	}
	cost := p.price(req.Model, resp.Model).Cost(resp.InputTokens, resp.CachedInputTokens, resp.OutputTokens)
	out.Model, out.Provider = resp.Model, resp.Provider
	out.Usage.InputTokens += resp.InputTokens
	out.Usage.OutputTokens += resp.OutputTokens
	out.CostMicroUSD += cost
	out.Calls = append(out.Calls, Call{
		Model: resp.Model, Provider: resp.Provider,
		InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens,
		CachedInputTokens: resp.CachedInputTokens, ReasoningTokens: resp.ReasoningTokens,
		CostMicroUSD: cost, Latency: latency, Outcome: "ok",
	})
	return resp, nil
}

func detailOf(err error) string {
	var me *ModelError
	if errors.As(err, &me) && me.Detail != "" {
		return me.Detail
	}
	return "model call failed: " + string(CodeOf(err))
}

// stripFence removes a Markdown code fence some models put around JSON.
func stripFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") {
		return s
	}
	s = strings.TrimPrefix(s, "```")
	s = strings.TrimPrefix(s, "json")
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
}
