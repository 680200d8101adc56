package consumers_test

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// The trace a ticket.created names comes back on its draft and cost
// events, with the task and model-call spans inside it.
func TestTraceIDComesBackOnTheDraft(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	h := newHarness(t)
	h.startWorker(&countingModel{}, 1)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	env, err := schemas.New(schemas.TypeTicketCreated, "test", "", refund)
	if err != nil {
		t.Fatal(err)
	}
	env.TraceParent = "00-" + traceID + "-00f067aa0ba902b7-01"
	raw, err := schemas.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	h.publishRaw(schemas.TypeTicketCreated, raw)
	h.waitFor("the draft", 5*time.Second, func() bool { return len(h.terminal()[env.ID]) == 1 })

	draft := h.terminal()[env.ID][0]
	if schemas.TraceID(draft.TraceParent) != traceID {
		t.Errorf("draft traceparent %q, want trace %s", draft.TraceParent, traceID)
	}
	for _, c := range h.events(schemas.StreamCosts, schemas.TypeCost) {
		if schemas.TraceID(c.TraceParent) != traceID {
			t.Errorf("cost traceparent %q, want trace %s", c.TraceParent, traceID)
		}
	}
	names := map[string]bool{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() == traceID {
			names[s.Name()] = true
		}
	}
	for _, want := range []string{"ghostwriter.task support_draft", "pipeline.run support_draft", "chat gpt-4o-mini"} {
		if !names[want] {
			t.Errorf("no span %q in the trace; have %v", want, names)
		}
	}
}
