package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// Endpoint is one model at one provider: the step of a fallback chain. It
// owns the model's rate limits and shares its provider's circuit breaker.
// Safe for concurrent use.
type Endpoint struct {
	// Alias names the endpoint in routes and logs, e.g. "gpt-4o-mini@azure".
	Alias string
	// Name is the provider's model name, sent in requests.
	Name     string
	Provider string
	// Offline marks the rules model: a fallback to it is "rules".
	Offline bool

	model   Model
	breaker *Breaker
	limits  *Limiter
}

// EndpointConfig configures NewEndpoint.
type EndpointConfig struct {
	Alias, Name, Provider string
	Offline               bool
	Model                 Model
	// Breaker is the provider's circuit breaker, shared by its endpoints;
	// nil means none.
	Breaker *Breaker
	// RequestsPerMinute and TokensPerMinute cap calls to this model; zero
	// means no limit.
	RequestsPerMinute, TokensPerMinute int
}

// NewEndpoint returns an endpoint; it panics on a nil model, a
// programmer's error at start-up.
func NewEndpoint(c EndpointConfig) *Endpoint {
	if c.Model == nil {
		panic("pipeline: endpoint " + c.Alias + " has no model")
	}
	if c.Alias == "" {
		c.Alias = c.Name
	}
	return &Endpoint{
		Alias: c.Alias, Name: c.Name, Provider: c.Provider, Offline: c.Offline,
		model: c.Model, breaker: c.Breaker,
		limits: NewLimiter(c.RequestsPerMinute, c.TokensPerMinute),
	}
}

// ErrCircuitOpen is returned for a call skipped because its provider's
// circuit is open; the chain moves on to its next step.
var ErrCircuitOpen = errors.New("circuit open")

// complete waits for the rate limits, then calls the model through the
// provider's circuit breaker.
func (e *Endpoint) complete(ctx context.Context, req Request, estTokens int) (Response, error) {
	if err := e.limits.Wait(ctx, estTokens); err != nil {
		return Response{}, err
	}
	call := func() (Response, error) { return e.model.Complete(ctx, req) }
	var resp Response
	var err error
	if e.breaker == nil {
		resp, err = call()
	} else {
		resp, err = e.breaker.cb.Execute(call)
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return Response{}, &ModelError{Code: CodeProviderUnavailable, Detail: fmt.Sprintf("%s circuit open", e.Provider), Err: ErrCircuitOpen}
		}
	}
	if err == nil {
		e.limits.Observe(resp.RateLimit, time.Now())
	}
	return resp, err
}

// Breaker is a provider's circuit breaker: after Failures consecutive
// calls fail because the provider is down, calls are skipped for OpenFor,
// then one trial call decides. Client errors (4xx) and bad answers do not
// count: the provider answered.
type Breaker struct {
	cb *gobreaker.CircuitBreaker[Response]
}

// BreakerState is a breaker's state, for metrics and tests.
type BreakerState = gobreaker.State

// NewBreaker returns a breaker for one provider.
func NewBreaker(provider string, failures uint32, openFor time.Duration, onChange func(provider string, from, to BreakerState)) *Breaker {
	if failures == 0 {
		failures = 5
	}
	return &Breaker{cb: gobreaker.NewCircuitBreaker[Response](gobreaker.Settings{
		Name:        provider,
		MaxRequests: 1,
		Timeout:     openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			switch CodeOf(err) {
			case CodeProviderUnavailable, CodeTimeout, CodeRateLimited:
				return false
			}
			return true
		},
		// The caller giving up says nothing about the provider.
		IsExcluded:    func(err error) bool { return errors.Is(err, context.Canceled) || CodeOf(err) == CodeCanceled },
		OnStateChange: onChange,
	})}
}

// State reports the breaker's current state.
func (b *Breaker) State() BreakerState { return b.cb.State() }

// Breaker states, for callers that branch on them.
const (
	StateClosed   = gobreaker.StateClosed
	StateHalfOpen = gobreaker.StateHalfOpen
	StateOpen     = gobreaker.StateOpen
)

// BreakerState reports the state of the endpoint's provider circuit:
// closed when it has none.
func (e *Endpoint) BreakerState() BreakerState {
	if e.breaker == nil {
		return StateClosed
	}
	return e.breaker.State()
}

// RateLimit is what a provider said about its remaining budget in its
// x-ratelimit-* headers. A zero limit means it said nothing of that kind.
type RateLimit struct {
	LimitRequests, RemainingRequests int
	LimitTokens, RemainingTokens     int
	ResetRequests, ResetTokens       time.Duration
}

// Limiter paces calls to one model: requests and tokens per minute, and
// slower still when the provider says its remaining budget is low. Calls
// wait; they never fail for it, except when ctx ends. Safe for concurrent
// use; a nil *Limiter never waits.
type Limiter struct {
	requests *rate.Limiter
	tokens   *rate.Limiter

	mu        sync.Mutex
	notBefore time.Time
}

// lowWater is the share of a provider's limit under which calls are
// spread over the time left until the limit resets.
const lowWater = 0.1

// NewLimiter returns a limiter; zero rates mean no limit of that kind.
// Bursts allow ten seconds' worth, so a quiet model is not throttled.
func NewLimiter(requestsPerMinute, tokensPerMinute int) *Limiter {
	l := &Limiter{}
	if requestsPerMinute > 0 {
		l.requests = rate.NewLimiter(rate.Limit(float64(requestsPerMinute)/60), max(1, requestsPerMinute/6))
	}
	if tokensPerMinute > 0 {
		l.tokens = rate.NewLimiter(rate.Limit(float64(tokensPerMinute)/60), max(1, tokensPerMinute/6))
	}
	return l
}

// Wait blocks until a call of about tokens tokens may go.
func (l *Limiter) Wait(ctx context.Context, tokens int) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	until := l.notBefore
	l.mu.Unlock()
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if l.requests != nil {
		if err := l.requests.Wait(ctx); err != nil {
			return err
		}
	}
	if l.tokens != nil && tokens > 0 {
		if err := l.tokens.WaitN(ctx, min(tokens, l.tokens.Burst())); err != nil {
			return err
		}
	}
	return nil
}

// Observe slows down when the provider's remaining budget is low: the
// next call waits for its share of the time left until the reset.
func (l *Limiter) Observe(rl RateLimit, now time.Time) {
	if l == nil {
		return
	}
	wait := max(spread(rl.LimitRequests, rl.RemainingRequests, rl.ResetRequests),
		spread(rl.LimitTokens, rl.RemainingTokens, rl.ResetTokens))
	if wait <= 0 {
		return
	}
	l.mu.Lock()
	if t := now.Add(wait); t.After(l.notBefore) {
		l.notBefore = t
	}
	l.mu.Unlock()
}

func spread(limit, remaining int, reset time.Duration) time.Duration {
	if limit <= 0 || reset <= 0 || float64(remaining) >= lowWater*float64(limit) {
		return 0
	}
	return reset / time.Duration(remaining+1)
}
