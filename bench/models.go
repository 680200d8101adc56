package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/openai"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
)

// discardLog formats what it is given, as a real handler does, and drops it.
var discardLog = slog.New(slog.NewJSONHandler(io.Discard, nil))

// benchPrice is what the bench prices gpt-4o-mini at, so the HTTP
// scenario prices every call as a configured deployment does.
var benchPrice = pipeline.Price{InputPerMTok: 150_000, OutputPerMTok: 600_000}

// newPipeline returns a pipeline set up as cmd/ghostwriter sets up `run`
// and `worker` (default retry policy, a 30 s call timeout, review under
// 0.5 confidence), for the given models configuration. factory makes the
// model of each provider, and of the rules model.
//
// One setting differs: MaxAge is off. The bench drains backlogs that are
// older than a live one would be, and an expired ticket costs no model
// call, which would flatter the figures.
func newPipeline(mc pipeline.ModelsConfig, factory pipeline.ModelFactory) (*pipeline.Pipeline, error) {
	endpoints, routes, err := mc.Build(factory, nil)
	if err != nil {
		return nil, fmt.Errorf("bench.pipeline: %w", err)
	}
	return &pipeline.Pipeline{
		Endpoints: endpoints, Routes: routes, Retry: mc.Retry.Policy(),
		CallTimeout: 30 * time.Second, ReviewBelow: 0.5, MaxAge: -1,
		Prices: map[string]pipeline.Price{"gpt-4o-mini": benchPrice},
		Logger: discardLog,
	}, nil
}

// rulesPipeline is the instant-model pipeline: the offline rules model
// alone, as `ghostwriter run` has without a model configured. wrap, when
// set, wraps the model (to time it).
func rulesPipeline(wrap func(pipeline.Model) pipeline.Model) (*pipeline.Pipeline, error) {
	mc := pipeline.ModelsConfig{Routes: []pipeline.RouteConfig{{Name: "default", Chain: []string{pipeline.RulesAlias}}}}
	return newPipeline(mc, func(string, pipeline.ProviderConfig) (pipeline.Model, error) {
		var m pipeline.Model = rules.Model{}
		if wrap != nil {
			m = wrap(m)
		}
		return m, nil
	})
}

// httpPipeline reaches an OpenAI-compatible server through go-openai, as
// `ghostwriter run --openai-base-url URL` does: one model, with the rules
// model behind it.
func httpPipeline(baseURL string) (*pipeline.Pipeline, error) {
	const model = "gpt-4o-mini"
	mc := pipeline.ModelsConfig{
		Providers: map[string]pipeline.ProviderConfig{"openai": {BaseURL: baseURL, Timeout: 30 * time.Second}},
		Models:    map[string]pipeline.ModelConfig{model: {Provider: "openai"}},
		Routes:    []pipeline.RouteConfig{{Name: "default", Chain: []string{model, pipeline.RulesAlias}}},
	}
	return newPipeline(mc, func(name string, p pipeline.ProviderConfig) (pipeline.Model, error) {
		if name == pipeline.RulesProvider {
			return rules.Model{}, nil
		}
		return openai.New(openai.Config{BaseURL: p.BaseURL, Timeout: p.Timeout, Provider: name})
	})
}

// slowPipeline answers through a model that takes latency per call, with
// the rules model behind it; provider "bench" has a circuit breaker, as a
// configured provider has.
func slowPipeline(latency time.Duration) *pipeline.Pipeline {
	const alias = "slow"
	slow := pipeline.NewEndpoint(pipeline.EndpointConfig{
		Alias: alias, Name: alias, Provider: "bench", Model: slowModel{latency: latency},
		Breaker: pipeline.NewBreaker("bench", 5, 30*time.Second, nil),
	})
	rulesEP := pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: pipeline.RulesAlias, Name: pipeline.RulesAlias,
		Provider: pipeline.RulesProvider, Offline: true, Model: rules.Model{}})
	return &pipeline.Pipeline{
		Endpoints: map[string]*pipeline.Endpoint{alias: slow, pipeline.RulesAlias: rulesEP},
		Routes:    []pipeline.Route{{Name: "default", Chain: []string{alias, pipeline.RulesAlias}}},
		Retry:     pipeline.DefaultRetry, CallTimeout: 30 * time.Second, ReviewBelow: 0.5, MaxAge: -1,
		Logger: discardLog,
	}
}

// slowModel answers like the rules model after a fixed latency, as a
// remote model would: it holds no CPU while it waits and gives up when ctx
// ends.
type slowModel struct {
	latency time.Duration
}

var _ pipeline.Model = slowModel{}

func (m slowModel) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	t := time.NewTimer(m.latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return pipeline.Response{}, ctx.Err() // the pipeline classes it: timeout or canceled
	}
	resp, err := rules.Model{}.Complete(ctx, req)
	resp.Model, resp.Provider = "slow", "bench"
	return resp, err
}

// timedModel adds each call's duration to the tracker, for the ticket
// whose trace the call runs in, so the live scenarios can subtract the
// model's own time from a ticket's latency.
type timedModel struct {
	next pipeline.Model
	tr   *tracker
}

var _ pipeline.Model = timedModel{}

func (m timedModel) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	start := time.Now()
	resp, err := m.next.Complete(ctx, req)
	m.tr.modelTime(trace.SpanContextFromContext(ctx).TraceID(), time.Since(start))
	return resp, err
}
