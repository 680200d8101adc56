package pipeline_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

var down = &pipeline.ModelError{Code: pipeline.CodeProviderUnavailable, Status: 503, Detail: "provider returned 503"}

func TestFallbackChainAndRoutes(t *testing.T) {
	primary := failing(down)
	second := script(pipeline.Response{Text: validAnswer, FinishReason: "stop"})
	p := &pipeline.Pipeline{
		Retry: fastRetry,
		Endpoints: map[string]*pipeline.Endpoint{
			"a":     pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "a", Name: "model-a", Provider: "pa", Model: primary}),
			"b":     pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "b", Name: "model-b", Provider: "pb", Model: second}),
			"rules": pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "rules", Name: rules.Name, Provider: rules.Name, Offline: true, Model: rules.Model{}}),
		},
		Routes: []pipeline.Route{
			{Name: "vip", When: pipeline.Match{CustomerTiers: []string{"enterprise"}}, Chain: []string{"a", "b", "rules"}},
			{Name: "long", When: pipeline.Match{MinTokens: 20}, Chain: []string{"a", "rules"}},
			{Name: "default", Chain: []string{"b"}},
		},
	}
	tests := []struct {
		name, tier, body               string
		wantRoute, wantWhy, wantModel  string
		wantFallback                   string
		wantPrimaryCalls, wantAttempts int
	}{
		{"vip falls back to the second model", "enterprise", "hi", "vip", "customer_tier=enterprise", "m1", schemas.FallbackModel, 3, 4},
		{"long falls back to rules", "pro", longText, "long", "tokens>=20", rules.Name, schemas.FallbackRules, 3, 4},
		{"default answers first time", "free", "hi", "default", "catch-all", "m1", schemas.FallbackNone, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := primary.calls.Load()
			tk := task(t, tt.body)
			tk.Ticket.CustomerTier = tt.tier
			out := p.Run(context.Background(), tk)
			if !out.Ready || out.Route != tt.wantRoute || out.RouteReason != tt.wantWhy || out.Model != tt.wantModel || out.Fallback != tt.wantFallback {
				t.Errorf("ready=%v route=%s (%s) model=%s fallback=%s (%s %s)", out.Ready, out.Route, out.RouteReason, out.Model, out.Fallback, out.Code, out.Detail)
			}
			if got := primary.calls.Load() - before; got != int64(tt.wantPrimaryCalls) || out.Attempts != tt.wantAttempts {
				t.Errorf("primary calls %d attempts %d, want %d and %d", got, out.Attempts, tt.wantPrimaryCalls, tt.wantAttempts)
			}
		})
	}
}

// A route may be for some tasks only: triage goes to its own chain, the
// answer is triage's own schema, and every text of it is checked.
func TestRoutesByTask(t *testing.T) {
	drafts := script(pipeline.Response{Text: validAnswer, FinishReason: "stop"})
	p := &pipeline.Pipeline{
		Retry: fastRetry,
		Endpoints: map[string]*pipeline.Endpoint{
			"b":     pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "b", Name: "model-b", Provider: "pb", Model: drafts}),
			"rules": pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "rules", Name: rules.Name, Provider: rules.Name, Offline: true, Model: rules.Model{}}),
		},
		Routes: []pipeline.Route{
			{Name: "cheap-triage", When: pipeline.Match{Tasks: []string{"triage"}}, Chain: []string{"rules"}},
			{Name: "default", Chain: []string{"b"}},
		},
	}
	out := p.Run(context.Background(), taskOf(t, "triage", "I was charged twice, please refund"))
	if !out.Ready || out.Route != "cheap-triage" || out.RouteReason != "task=triage" || out.Model != rules.Name {
		t.Fatalf("triage: ready=%v route=%s (%s) model=%s (%s %s)", out.Ready, out.Route, out.RouteReason, out.Model, out.Code, out.Detail)
	}
	if out.Answer["department"] != "billing" || out.Answer["priority"] != "high" || out.Answer.RequiresReview() {
		t.Errorf("triage answer = %v", out.Answer)
	}
	if out := p.Run(context.Background(), task(t, "hi")); !out.Ready || out.Route != "default" || out.Model != "m1" {
		t.Errorf("support_draft: route=%s model=%s (%s)", out.Route, out.Model, out.Code)
	}
}

var longText = "please help with my invoice, it is wrong and I was charged for a plan I never used. " +
	"The amount is twice what it should be and the support page did not help at all. Please refund."

// When a provider is down its circuit opens after the configured
// failures, and later tasks skip it without calling it.
func TestCircuitOpensAndCallsStop(t *testing.T) {
	dead := failing(down)
	var mu sync.Mutex
	var transitions []string
	breaker := pipeline.NewBreaker("dead", 3, time.Hour, func(_ string, from, to pipeline.BreakerState) {
		mu.Lock()
		transitions = append(transitions, from.String()+"->"+to.String())
		mu.Unlock()
	})
	p := &pipeline.Pipeline{
		Retry: pipeline.RetryPolicy{MaxAttempts: 1, Initial: time.Millisecond, Max: time.Millisecond, Budget: time.Second},
		Endpoints: map[string]*pipeline.Endpoint{
			"dead":  pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "dead", Name: "m-dead", Provider: "dead", Model: dead, Breaker: breaker}),
			"rules": pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "rules", Name: rules.Name, Provider: rules.Name, Offline: true, Model: rules.Model{}}),
		},
		Routes: []pipeline.Route{{Name: "default", Chain: []string{"dead", "rules"}}},
	}
	for i := range 10 {
		out := p.Run(context.Background(), task(t, "hi"))
		if !out.Ready || out.Fallback != schemas.FallbackRules {
			t.Fatalf("task %d: ready=%v fallback=%s", i, out.Ready, out.Fallback)
		}
	}
	if n := dead.calls.Load(); n != 3 {
		t.Errorf("the dead provider was called %d times, want 3 (then the circuit is open)", n)
	}
	if breaker.State().String() != "open" || len(transitions) != 1 || transitions[0] != "closed->open" {
		t.Errorf("state %s transitions %v", breaker.State(), transitions)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	m := &countingModel{}
	m.complete = func(context.Context, pipeline.Request) (pipeline.Response, error) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		if m.calls.Load() == 1 {
			return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeRateLimited, Status: 429, RetryAfter: 150 * time.Millisecond}
		}
		return pipeline.Response{Text: validAnswer, FinishReason: "stop", Model: "m1"}, nil
	}
	p := &pipeline.Pipeline{Model: m, Retry: fastRetry}
	out := p.Run(context.Background(), task(t, "hi"))
	if !out.Ready || len(starts) != 2 || out.Retries != 1 {
		t.Fatalf("ready=%v calls=%d retries=%d", out.Ready, len(starts), out.Retries)
	}
	if gap := starts[1].Sub(starts[0]); gap < 150*time.Millisecond {
		t.Errorf("second attempt %v after the first, sooner than the 150ms asked", gap)
	}
}

func TestLimiterSlowsDownWhenProviderIsLow(t *testing.T) {
	l := pipeline.NewLimiter(0, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx, 100); err != nil {
		t.Fatalf("a fresh limiter waited: %v", err)
	}
	// Plenty left: no slowdown.
	l.Observe(pipeline.RateLimit{LimitRequests: 100, RemainingRequests: 50, ResetRequests: time.Minute}, time.Now())
	if err := l.Wait(ctx, 100); err != nil {
		t.Fatalf("limiter slowed down with half the budget left: %v", err)
	}
	// One request left for a minute: the next call waits about 30s.
	l.Observe(pipeline.RateLimit{LimitRequests: 100, RemainingRequests: 1, ResetRequests: time.Minute}, time.Now())
	if err := l.Wait(ctx, 100); err == nil {
		t.Fatal("limiter did not slow down with 1 of 100 requests left")
	}
}

func TestLimiterWaitsForTokensInsteadOfFailing(t *testing.T) {
	l := pipeline.NewLimiter(0, 60_000) // 1,000 tokens a second, burst 10,000
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A request larger than the burst is clamped, never refused.
	if err := l.Wait(ctx, 1_000_000); err != nil {
		t.Fatalf("limiter refused a large request: %v", err)
	}
	if err := l.Wait(ctx, 100); err != nil {
		t.Fatalf("limiter refused a small request it can serve in 0.1s: %v", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if err := l.Wait(short, 10_000); err == nil {
		t.Error("limiter let a second full burst through at once")
	}
}

// memCache is an in-memory pipeline.Cache.
type memCache struct {
	mu sync.Mutex
	m  map[string]pipeline.CacheEntry
}

func (c *memCache) Get(_ context.Context, k string) (pipeline.CacheEntry, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok, nil
}

func (c *memCache) Put(_ context.Context, k string, e pipeline.CacheEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = e
	return nil
}

func TestCacheAnswersRepeatedInputWithoutACall(t *testing.T) {
	m := script(pipeline.Response{Text: validAnswer, FinishReason: "stop"})
	p := &pipeline.Pipeline{Model: m, Retry: fastRetry, Cache: &memCache{m: map[string]pipeline.CacheEntry{}}}
	first := p.Run(context.Background(), task(t, "same words"))
	second := p.Run(context.Background(), task(t, "same words"))
	other := p.Run(context.Background(), task(t, "other words"))
	if first.Fallback != schemas.FallbackNone || second.Fallback != schemas.FallbackCache || other.Fallback != schemas.FallbackNone {
		t.Errorf("fallbacks %s %s %s, want none cache none", first.Fallback, second.Fallback, other.Fallback)
	}
	if !reflect.DeepEqual(second.Answer, first.Answer) || len(second.Calls) != 0 || second.CostMicroUSD != 0 || m.calls.Load() != 2 {
		t.Errorf("cached outcome %+v, model calls %d", second, m.calls.Load())
	}
}
