package consumers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/openai"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Every fault the fake OpenAI server can produce, through go-openai and a
// real JetStream: the event that comes out, the model calls made and the
// ai.cost events (one per call that reached the provider).
func TestProviderFaults(t *testing.T) {
	const valid = fakeai.DefaultContent
	always := func(r fakeai.Reply) []fakeai.Reply { return []fakeai.Reply{r} }
	deliveries := 5 // the harness's MaxDeliver
	perDelivery := testRetry.MaxAttempts
	tests := []struct {
		name       string
		replies    []fakeai.Reply // in order; the last one repeats
		wantType   string
		wantCode   pipeline.Code
		wantRetry  bool
		wantCalls  int
		wantDetail string
	}{
		{"ok", always(fakeai.Reply{Content: valid}), schemas.TypeDraftReady, "", false, 1, ""},
		{"500 on every call", always(fakeai.Reply{Status: 500}), schemas.TypeDraftFailed, pipeline.CodeProviderUnavailable, true, deliveries * perDelivery, ""},
		{"503 once, then ok", []fakeai.Reply{{Status: 503}, {Content: valid}}, schemas.TypeDraftReady, "", false, 2, ""},
		{"429 with Retry-After, then ok", []fakeai.Reply{{Status: 429, Header: http.Header{"Retry-After": {"0.2"}}}, {Content: valid}}, schemas.TypeDraftReady, "", false, 2, ""},
		{"connection reset", always(fakeai.Reply{Reset: true}), schemas.TypeDraftFailed, pipeline.CodeProviderUnavailable, true, deliveries * perDelivery, ""},
		{"hang past the timeout", always(fakeai.Reply{Hang: true}), schemas.TypeDraftFailed, pipeline.CodeTimeout, true, deliveries * perDelivery, ""},
		{"not JSON, repaired", []fakeai.Reply{{Content: "Sure! Here is a draft."}, {Content: valid}}, schemas.TypeDraftReady, "", false, 2, ""},
		{"not JSON twice", always(fakeai.Reply{Content: "Sure! Here is a draft."}), schemas.TypeDraftFailed, pipeline.CodeInvalidOutput, false, 2, "not a JSON document"},
		{"schema violation twice", always(fakeai.Reply{Content: `{"draft":"hi","confidence":7,"reason":"other","requires_review":false}`}), schemas.TypeDraftFailed, pipeline.CodeInvalidOutput, false, 2, "/confidence"},
		{"refusal", always(fakeai.Reply{Refusal: "I can't help with that."}), schemas.TypeDraftFailed, pipeline.CodeUnsafeContent, false, 1, ""},
		{"content filter", always(fakeai.Reply{FinishReason: "content_filter"}), schemas.TypeDraftFailed, pipeline.CodeUnsafeContent, false, 1, ""},
		{"length, then room enough", []fakeai.Reply{{Content: `{"draft":"Thanks`, FinishReason: "length"}, {Content: valid}}, schemas.TypeDraftReady, "", false, 2, ""},
		{"length twice", always(fakeai.Reply{Content: `{"draft":"Thanks`, FinishReason: "length"}), schemas.TypeDraftFailed, pipeline.CodeTruncatedOutput, false, 2, "max_tokens"},
		{"401", always(fakeai.Reply{Status: 401}), schemas.TypeDraftFailed, pipeline.CodeInternal, false, 1, "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ai := fakeai.New()
			t.Cleanup(ai.Close)
			ai.Script(tt.replies[:len(tt.replies)-1]...)
			last := tt.replies[len(tt.replies)-1]
			ai.SetDefault(func(goopenai.ChatCompletionRequest) fakeai.Reply { return last })
			client, err := openai.New(openai.Config{BaseURL: ai.URL(), APIKey: "sk-test", Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			h.startPipeline(h.nc, &pipeline.Pipeline{Model: client, Retry: testRetry}, 2)
			id := h.publishTicket("", refund)

			h.waitFor("a result", 20*time.Second, func() bool { return len(h.terminal()[id]) > 0 })
			h.settled(10 * time.Second)
			res := h.terminal()[id]
			if len(res) != 1 || res[0].Type != tt.wantType {
				t.Fatalf("results %d, first %s; want one %s", len(res), res[0].Type, tt.wantType)
			}
			var got struct {
				ErrorCode   string `json:"error_code"`
				ErrorDetail string `json:"error_detail"`
				Retryable   bool   `json:"retryable"`
				Attempts    int    `json:"attempts"`
				Route       string `json:"route"`
			}
			if err := res[0].DecodeData(&got); err != nil {
				t.Fatal(err)
			}
			if got.ErrorCode != string(tt.wantCode) || got.Retryable != tt.wantRetry || got.Attempts != tt.wantCalls || got.Route != "default" {
				t.Errorf("event %+v, want code %q retryable %v attempts %d route default", got, tt.wantCode, tt.wantRetry, tt.wantCalls)
			}
			if !strings.Contains(got.ErrorDetail, tt.wantDetail) {
				t.Errorf("error_detail %q, want it to mention %q", got.ErrorDetail, tt.wantDetail)
			}
			if n := ai.Calls(); n != tt.wantCalls {
				t.Errorf("fake provider saw %d calls, want %d", n, tt.wantCalls)
			}
			if n := len(h.events(schemas.StreamCosts, schemas.TypeCost)); n != tt.wantCalls {
				t.Errorf("ai.cost events %d, want one per call (%d)", n, tt.wantCalls)
			}
		})
	}
}

// A dead provider: its circuit opens after the configured failures, every
// ticket is drafted by the rules model behind it, and calls stop.
func TestDeadProviderOpensCircuitAndFallsBack(t *testing.T) {
	h := newHarness(t)
	ai := fakeai.New()
	t.Cleanup(ai.Close)
	ai.SetDefault(func(goopenai.ChatCompletionRequest) fakeai.Reply { return fakeai.Reply{Status: 503} })
	client, err := openai.New(openai.Config{BaseURL: ai.URL(), Provider: "flaky"})
	if err != nil {
		t.Fatal(err)
	}
	breaker := pipeline.NewBreaker("flaky", 3, time.Hour, nil)
	pipe := &pipeline.Pipeline{
		Retry: testRetry,
		Endpoints: map[string]*pipeline.Endpoint{
			"gpt": pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "gpt", Name: "gpt-4o-mini", Provider: "flaky", Model: client, Breaker: breaker}),
			"rules": pipeline.NewEndpoint(pipeline.EndpointConfig{Alias: "rules", Name: rules.Name, Provider: rules.Name,
				Offline: true, Model: rules.Model{}}),
		},
		Routes: []pipeline.Route{{Name: "default", Chain: []string{"gpt", "rules"}}},
	}
	h.startPipeline(h.nc, pipe, 1)
	const n = 10
	for range n {
		h.publishTicket("", refund)
	}
	h.waitFor("every draft", 20*time.Second, func() bool { return len(h.terminal()) == n })
	for id, res := range h.terminal() {
		var d schemas.DraftReady
		if err := res[0].DecodeData(&d); err != nil || res[0].Type != schemas.TypeDraftReady || d.Fallback != schemas.FallbackRules {
			t.Errorf("%s: %s fallback %q (%v)", id, res[0].Type, d.Fallback, err)
		}
	}
	if calls := ai.Calls(); calls != 3 {
		t.Errorf("the dead provider got %d calls, want 3: then the circuit is open", calls)
	}
}

// With the cache on, a second ticket with the same text is answered from
// the KV bucket: fallback cache, no model call, no cost event.
func TestCacheAnswersRepeatedTickets(t *testing.T) {
	h := newHarness(t)
	kv, err := h.js.KeyValue(h.ctx, schemas.BucketCache)
	if err != nil {
		t.Fatal(err)
	}
	model := &countingModel{}
	h.startPipeline(h.nc, &pipeline.Pipeline{Model: model, Retry: testRetry, Cache: consumers.KVCache{KV: kv}}, 1)
	first := h.publishTicket("", refund)
	h.waitFor("the first draft", 5*time.Second, func() bool { return len(h.terminal()[first]) == 1 })
	second := h.publishTicket("", refund)
	h.waitFor("the second draft", 5*time.Second, func() bool { return len(h.terminal()[second]) == 1 })

	var a, b schemas.DraftReady
	if err := h.terminal()[first][0].DecodeData(&a); err != nil {
		t.Fatal(err)
	}
	if err := h.terminal()[second][0].DecodeData(&b); err != nil {
		t.Fatal(err)
	}
	if a.Fallback != schemas.FallbackNone || b.Fallback != schemas.FallbackCache || b.Draft != a.Draft || b.CostMicroUSD != 0 || b.Attempts != 0 {
		t.Errorf("first %s/%q, second %s/%q cost %d attempts %d", a.Fallback, a.Draft, b.Fallback, b.Draft, b.CostMicroUSD, b.Attempts)
	}
	if n := model.calls.Load(); n != 1 {
		t.Errorf("model calls %d, want 1", n)
	}
	if n := len(h.events(schemas.StreamCosts, schemas.TypeCost)); n != 1 {
		t.Errorf("ai.cost events %d, want 1", n)
	}
}
