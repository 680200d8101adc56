package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

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
	// Created is when the product created the event (its CloudEvents
	// time); a task older than the pipeline's MaxAge is expired.
	Created time.Time
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

// Outcome is the result of Run: ready with an Answer, or failed with a Code.
type Outcome struct {
	Ready  bool
	Answer Answer
	Code   Code
	Detail string // short, safe to publish: never ticket text
	// RetryAfter is the delay to wait before the next try, when a
	// provider asked for one or the retry budget ran out.
	RetryAfter time.Duration

	// Route names the route taken and RouteReason why it matched.
	Route, RouteReason string
	Model              string
	Provider           string
	PromptVersion      string
	PromptHash         string
	Usage              schemas.Usage
	CostMicroUSD       int64
	Latency            time.Duration
	// Attempts counts model calls; Retries the waits between them.
	Attempts, Retries int
	Fallback          string
	Calls             []Call
	// BudgetSoft is true when the tenant is over a soft budget limit:
	// the task ran, and callers should warn.
	BudgetSoft bool
	// Cleaned counts what cleaning removed, and Masked the personal data
	// and secrets masked, by kind: counts only, never text.
	Cleaned CleanReport
	Masked  map[string]int
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

// Cache remembers answers for identical input, prompt version and model.
// Errors are not fatal: a cache that fails is a cache that missed.
type Cache interface {
	Get(ctx context.Context, key string) (CacheEntry, bool, error)
	Put(ctx context.Context, key string, e CacheEntry) error
}

// CacheEntry is a cached answer, with its placeholders, and what produced it.
type CacheEntry struct {
	Answer   Answer `json:"answer"`
	Model    string `json:"model"`
	Provider string `json:"provider"`
}

// Pipeline runs tasks. Its fields are set once at start-up; Run is safe for
// concurrent use as long as the models are.
//
// The simple form sets Model (and optionally DefaultModel): one endpoint,
// one route. The configured form sets Endpoints and Routes.
type Pipeline struct {
	Model Model
	// DefaultModel overrides the prompt's model name in the simple form.
	DefaultModel string

	// Endpoints by alias, and Routes tried in order: the first match
	// picks the chain. A ticket no route matches fails as internal, so
	// end Routes with a catch-all.
	Endpoints map[string]*Endpoint
	Routes    []Route

	Retry RetryPolicy
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
	// Cache, when set, answers repeated input without a model call.
	Cache Cache
	// MaxBodyBytes fails longer ticket bodies as invalid_input
	// (too_large); zero means DefaultMaxBodyBytes.
	MaxBodyBytes int
	// AllowedLinkHosts are hosts a draft may link to besides those the
	// ticket itself mentions; FailUnknownLinks fails a draft with any other
	// link as unsafe_content instead of flagging it for review.
	AllowedLinkHosts []string
	FailUnknownLinks bool
	// MaxAge fails tickets picked up later than this after they were
	// created as expired: under a backlog, stale work costs nothing. Zero
	// means DefaultMaxAge; negative means no limit.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	simpleOnce sync.Once
	simple     *Endpoint
	unpriced   sync.Map // model names already warned about
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Defaults for the input limits.
const (
	DefaultMaxBodyBytes = 64 << 10
	DefaultMaxAge       = 10 * time.Minute
)

// checkInput rejects, before any cost, what no model call can fix.
func (p *Pipeline) checkInput(t Task) error {
	maxAge := cmp.Or(p.MaxAge, DefaultMaxAge)
	if maxAge > 0 && !t.Created.IsZero() && p.now().Sub(t.Created) > maxAge {
		return &ModelError{Code: CodeExpired, Detail: fmt.Sprintf("older than %v when picked up", maxAge)}
	}
	if len(t.Ticket.Body) > cmp.Or(p.MaxBodyBytes, DefaultMaxBodyBytes) {
		return &ModelError{Code: CodeInvalidInput, Detail: "too_large"}
	}
	for _, s := range []string{t.Ticket.Subject, t.Ticket.Body} {
		if strings.ContainsFunc(s, forbiddenControl) {
			return &ModelError{Code: CodeInvalidInput, Detail: "control_characters"}
		}
	}
	return nil
}

// forbiddenControl reports control characters no text has a use for: NUL
// and the C0 codes other than tab, line feed, vertical tab, form feed and
// carriage return, and DEL.
func forbiddenControl(r rune) bool {
	return (r < 0x20 && (r < '\t' || r > '\r')) || r == 0x7f
}

// Run takes a task through clean → route → render → (cache) → call with
// retries along the route's fallback chain → validate → price, and returns
// its outcome. It never panics on task data and never puts ticket text in
// Detail.
func (p *Pipeline) Run(ctx context.Context, t Task) (out Outcome) {
	ctx, span := tracer.Start(ctx, "pipeline.run "+t.Name)
	defer func() {
		span.SetAttributes(attribute.String("ghostwriter.route", out.Route), attribute.String("ghostwriter.fallback", out.Fallback),
			attribute.Int("ghostwriter.attempts", out.Attempts), attribute.String("ghostwriter.prompt_version", out.PromptVersion))
		if !out.Ready {
			span.SetStatus(codes.Error, string(out.Code))
		}
		span.End()
	}()
	start := p.now()
	out = Outcome{PromptVersion: t.Prompt.Version, PromptHash: t.Prompt.Hash, Fallback: schemas.FallbackNone}
	finish := func(err error) Outcome {
		out.Code, out.Detail = CodeOf(err), detailOf(err)
		var me *ModelError
		if errors.As(err, &me) {
			out.RetryAfter = me.RetryAfter
		}
		out.Latency = p.now().Sub(start)
		return out
	}
	if err := ctx.Err(); err != nil {
		return finish(err)
	}
	if err := p.checkInput(t); err != nil {
		return finish(err)
	}

	// The model sees only the text it needs, and no personal data: the
	// masker's mapping lives in this call only and is never logged,
	// stored or published.
	ticket := t.Ticket
	ticket.Subject = Clean(ticket.Subject)
	ticket.Body, out.Cleaned = CleanBody(ticket.Body, t.Prompt.InputBudget)
	if ticket.Body == "" {
		return finish(&ModelError{Code: CodeInvalidInput, Detail: "empty_body"})
	}
	masker := NewMasker()
	ticket.Subject, ticket.Body = masker.Mask(ticket.Subject), masker.Mask(ticket.Body)
	out.Masked = masker.Counts()
	input := ticket.Subject + "\n" + ticket.Body
	route, chain, err := p.pick(ticket, EstimateTokens(input), t.Prompt)
	if err != nil {
		return finish(err)
	}
	out.Route, out.RouteReason = route.Name, route.reason
	rendered, err := t.Prompt.Render(prompts.Input{Ticket: ticket})
	if err != nil {
		return finish(&ModelError{Code: CodeInternal, Detail: "prompt render failed"})
	}
	req := Request{
		Messages: []Message{
			{Role: "system", Content: rendered.System},
			{Role: "user", Content: rendered.User},
		},
		Temperature: t.Prompt.Model.Temperature,
		MaxTokens:   t.Prompt.Model.MaxTokens,
		SchemaName:  t.Prompt.SchemaName,
		Schema:      t.Prompt.OutputSchema,
		TenantID:    t.Ticket.TenantID,
		Input:       input,
	}

	key := cacheKey(t.Prompt, chain[0].Alias, rendered)
	if p.Cache != nil {
		if e, ok, err := p.Cache.Get(ctx, key); err == nil && ok && e.Answer != nil {
			out.Ready, out.Answer, out.Model, out.Provider = true, unmask(masker, e.Answer), e.Model, e.Provider
			out.Fallback = schemas.FallbackCache
			out.Latency = p.now().Sub(start)
			return out
		}
	}

	var lastErr error
	for i, ep := range chain {
		out.Model, out.Provider = ep.Name, ep.Provider
		a, err := p.answerWith(ctx, ep, req, t.Prompt, rendered, &out)
		if err == nil {
			if c, ok := a.Confidence(); ok && c < p.ReviewBelow {
				a.flagReview(true)
			}
			out.Ready, out.Answer = true, unmask(masker, a)
			out.Fallback = fallbackKind(i, ep)
			out.Latency = p.now().Sub(start)
			if p.Cache != nil && out.Fallback == schemas.FallbackNone {
				// Cached with its placeholders: the next ticket's own
				// values fill them, never this one's.
				_ = p.Cache.Put(ctx, key, CacheEntry{Answer: a, Model: out.Model, Provider: out.Provider})
			}
			return out
		}
		lastErr = err
		if !fallsBack(err) || ctx.Err() != nil {
			break
		}
	}
	return finish(lastErr)
}

// unmask restores the placeholders of an answer from this task's mapping.
// A placeholder the model invented, or a raw value it wrote out where the
// ticket had a placeholder, sends the answer to a human.
func unmask(m *Masker, a Answer) Answer {
	review := false
	a = a.mapText(func(s string) string {
		text, r := m.Unmask(s)
		review = review || r
		return text
	})
	a.flagReview(review)
	return a
}

// routeChoice is a route with the reason it matched.
type routeChoice struct {
	Route
	reason string
}

// pick finds the first matching route and resolves its chain.
func (p *Pipeline) pick(t schemas.TicketCreated, tokens int, prompt *prompts.Prompt) (routeChoice, []*Endpoint, error) {
	if len(p.Routes) == 0 {
		p.simpleOnce.Do(func() {
			name := p.DefaultModel
			if name == "" {
				name = prompt.Model.Name
			}
			p.simple = NewEndpoint(EndpointConfig{Alias: name, Name: name, Model: p.Model})
		})
		return routeChoice{Route{Name: "default"}, "catch-all"}, []*Endpoint{p.simple}, nil
	}
	for _, r := range p.Routes {
		ok, why := r.When.matches(prompt.Task, t, tokens)
		if !ok {
			continue
		}
		chain := make([]*Endpoint, 0, len(r.Chain))
		for _, alias := range r.Chain {
			ep, found := p.Endpoints[alias]
			if !found {
				return routeChoice{}, nil, &ModelError{Code: CodeInternal, Detail: fmt.Sprintf("route %s names unknown endpoint %s", r.Name, alias)}
			}
			chain = append(chain, ep)
		}
		if len(chain) == 0 {
			return routeChoice{}, nil, &ModelError{Code: CodeInternal, Detail: "route " + r.Name + " has an empty chain"}
		}
		return routeChoice{r, why}, chain, nil
	}
	return routeChoice{}, nil, &ModelError{Code: CodeInternal, Detail: "no route matches; add a catch-all route"}
}

// answerWith gets a valid answer from one endpoint: the call with
// retries, one retry with more room when the answer was cut, one repair
// call when it did not match the schema, then the output checks.
func (p *Pipeline) answerWith(ctx context.Context, ep *Endpoint, req Request, prompt *prompts.Prompt, rendered prompts.Rendered, out *Outcome) (Answer, error) {
	req.Model = ep.Name
	resp, err := p.callRetrying(ctx, ep, req, out)
	if err != nil {
		return nil, err
	}
	if resp.FinishReason == "length" {
		if bigger := min(req.MaxTokens*2, prompt.Model.MaxTokensCap); bigger > req.MaxTokens {
			req.MaxTokens = bigger
			if resp, err = p.callRetrying(ctx, ep, req, out); err != nil {
				return nil, err
			}
		}
	}
	a, err := checkAnswer(resp, req.MaxTokens, prompt)
	var me *ModelError
	if errors.As(err, &me) && me.Code == CodeInvalidOutput {
		repair := req
		repair.Messages = append(slices.Clone(req.Messages),
			Message{Role: "assistant", Content: resp.Text},
			Message{Role: "user", Content: "That answer was rejected: " + me.Detail +
				". Reply again with only the JSON object that the schema asks for."})
		if resp, err = p.callRetrying(ctx, ep, repair, out); err != nil {
			return nil, err
		}
		a, err = checkAnswer(resp, req.MaxTokens, prompt)
	}
	if err != nil {
		return nil, err
	}
	texts := a.Texts()
	if err := checkTexts(texts, prompt, rendered); err != nil {
		return nil, err
	}
	review := false
	if link := p.unknownLink(strings.Join(texts, "\n"), req.Input); link != "" {
		if p.FailUnknownLinks {
			return nil, &ModelError{Code: CodeUnsafeContent, Detail: "answer links to a host that is neither in the ticket nor allowed"}
		}
		review = true
	}
	a = a.mapText(strings.TrimSpace)
	a.flagReview(review)
	return a, nil
}

var linkPattern = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"')\]]+`)

// unknownLink returns the host of the first link in an answer that points
// neither to a host the ticket mentions nor to an allowed one: a prompt
// injection's favourite payload is a link the customer never sent.
func (p *Pipeline) unknownLink(draft, ticket string) string {
	if !mayLink(draft) {
		return ""
	}
	links := linkPattern.FindAllString(draft, -1)
	if len(links) == 0 {
		return ""
	}
	known := map[string]bool{}
	for _, h := range p.AllowedLinkHosts {
		known[strings.ToLower(h)] = true
	}
	for _, l := range linkPattern.FindAllString(ticket, -1) {
		known[linkHost(l)] = true
	}
	for _, l := range links {
		if h := linkHost(l); !known[h] {
			return h
		}
	}
	return ""
}

func linkHost(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	return strings.ToLower(u.Hostname())
}

// checkAnswer turns a response into an answer that matches the prompt's
// output schema, or an error with the code that says why it is not one.
func checkAnswer(resp Response, maxTokens int, prompt *prompts.Prompt) (Answer, error) {
	switch resp.FinishReason {
	case "length":
		return nil, &ModelError{Code: CodeTruncatedOutput, Detail: fmt.Sprintf("answer cut at max_tokens=%d", maxTokens)}
	case "content_filter":
		return nil, &ModelError{Code: CodeUnsafeContent, Detail: "provider content filter"}
	}
	text := stripFence(resp.Text)
	if err := prompt.CheckOutput([]byte(text)); err != nil {
		return nil, &ModelError{Code: CodeInvalidOutput, Detail: err.Error()}
	}
	return decodeAnswer(text)
}

// leakWords is how many consecutive words of the system prompt in an
// answer count as leaking it: enough to rule out chance, few enough to
// catch a paraphrase that quotes.
const leakWords = 8

// checkTexts applies to an answer's texts (Answer.Texts) the checks a
// schema cannot express: the prompt's length limit, and no trace of the
// system prompt or its canary.
func checkTexts(texts []string, prompt *prompts.Prompt, rendered prompts.Rendered) error {
	if max := prompt.MaxDraftChars; max > 0 {
		for _, t := range texts {
			if utf8.RuneCountInString(t) > max {
				return &ModelError{Code: CodeInvalidOutput, Detail: fmt.Sprintf("answer text longer than %d characters", max)}
			}
		}
	}
	lower := strings.ToLower(strings.Join(texts, "\n"))
	if c := prompt.Canary; c != "" && strings.Contains(lower, strings.ToLower(c)) {
		return &ModelError{Code: CodeUnsafeContent, Detail: "answer repeats the system prompt's canary"}
	}
	if leaksSystem(rendered.System, strings.Fields(lower), leakWords) {
		return &ModelError{Code: CodeUnsafeContent, Detail: "answer repeats the system prompt"}
	}
	return nil
}

// sharesRun reports whether b contains n consecutive words of a.
func sharesRun(a, b []string, n int) bool {
	if len(a) < n || len(b) < n {
		return false
	}
	runs := make(map[string]struct{}, len(a))
	for i := 0; i+n <= len(a); i++ {
		runs[strings.Join(a[i:i+n], " ")] = struct{}{}
	}
	for i := 0; i+n <= len(b); i++ {
		if _, ok := runs[strings.Join(b[i:i+n], " ")]; ok {
			return true
		}
	}
	return false
}

// callRetrying calls one endpoint, retrying retryable failures with
// jittered exponential backoff, never sooner than a provider's
// Retry-After, within the retry budget and ctx. When the next wait does
// not fit, it returns the last error with that wait as its RetryAfter.
func (p *Pipeline) callRetrying(ctx context.Context, ep *Endpoint, req Request, out *Outcome) (Response, error) {
	policy := p.Retry.orDefault()
	b := policy.backoff()
	budgetEnds := p.now().Add(policy.Budget)
	for attempt := 1; ; attempt++ {
		resp, err := p.guardedCall(ctx, ep, req, out)
		if err == nil {
			return resp, nil
		}
		code := CodeOf(err)
		if !code.Retryable() || code == CodeCanceled || errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrBudgetBusy) || attempt >= policy.MaxAttempts {
			return resp, err
		}
		var me *ModelError
		wait := b.NextBackOff()
		if errors.As(err, &me) && me.RetryAfter > wait {
			wait = me.RetryAfter
		}
		deadline, hasDeadline := ctx.Deadline()
		if p.now().Add(wait).After(budgetEnds) || (hasDeadline && time.Now().Add(wait).After(deadline)) {
			return resp, withRetryAfter(err, wait)
		}
		out.Retries++
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return resp, err
		}
	}
}

// withRetryAfter returns err as a *ModelError that asks for wait.
func withRetryAfter(err error, wait time.Duration) error {
	var me *ModelError
	if errors.As(err, &me) {
		c := *me
		c.RetryAfter = max(c.RetryAfter, wait)
		return &c
	}
	return &ModelError{Code: CodeOf(err), RetryAfter: wait, Err: err}
}

// callOnce makes one model call under its own timeout and records it.
func (p *Pipeline) callOnce(ctx context.Context, ep *Endpoint, req Request, out *Outcome) (Response, error) {
	if p.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.CallTimeout)
		defer cancel()
	}
	est := EstimateTokens(req.Messages[0].Content) + EstimateTokens(req.Messages[len(req.Messages)-1].Content) + req.MaxTokens
	ctx, span := tracer.Start(ctx, "chat "+ep.Name, trace.WithSpanKind(trace.SpanKindClient))
	start := p.now()
	resp, err := ep.complete(ctx, req, est)
	latency := p.now().Sub(start)
	span.SetAttributes(callSpanAttrs(ep, req, resp)...)
	endSpan(span, err)
	if errors.Is(err, ErrCircuitOpen) {
		return resp, err // skipped, not a call
	}
	out.Attempts++
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		// The clients report no usage on a failed call, so nothing is
		// billed; the call is still recorded.
		out.Calls = append(out.Calls, Call{Model: ep.Name, Provider: ep.Provider, Latency: latency, Outcome: string(CodeOf(err))})
		return resp, err
	}
	if resp.Model == "" {
		resp.Model = ep.Name
	}
	if resp.Provider == "" {
		resp.Provider = ep.Provider
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

// fallsBack reports whether the next step of a chain should be tried: the
// provider is unreachable or overloaded, not the answer wrong.
func fallsBack(err error) bool {
	if errors.Is(err, ErrBudgetBusy) {
		return false // the tenant's money, not the provider, is in the way
	}
	switch CodeOf(err) {
	case CodeProviderUnavailable, CodeTimeout, CodeRateLimited:
		return true
	}
	return false
}

func fallbackKind(step int, ep *Endpoint) string {
	switch {
	case step == 0:
		return schemas.FallbackNone
	case ep.Offline:
		return schemas.FallbackRules
	}
	return schemas.FallbackModel
}

// cacheKey identifies identical work: the prompt version, the endpoint
// that would answer first and the rendered prompt.
func cacheKey(prompt *prompts.Prompt, alias string, r prompts.Rendered) string {
	h := sha256.New()
	for _, s := range []string{prompt.Task, prompt.Version, alias, r.System, r.User} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:20])
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
