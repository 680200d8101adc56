package consumers

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// tracer is the global provider's: a no-op (and free) until cmd installs
// an exporting one.
var tracer = otel.Tracer("github.com/ghostwriter-ai/ghostwriter/consumers")

// startTaskSpan starts the span of one task, continuing the trace the
// event names in its traceparent extension or, failing that, its NATS
// header (matched case-insensitively: producers in other languages write
// it lower case, Go canonicalises it).
func startTaskSpan(ctx context.Context, task, consumer string, env schemas.Envelope, msg jetstream.Msg) (context.Context, trace.Span) {
	tp := env.TraceParent
	if tp == "" {
		for k, v := range msg.Headers() {
			if strings.EqualFold(k, schemas.HeaderTraceparent) && len(v) > 0 {
				tp = v[0]
			}
		}
	}
	if tp != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
	}
	return tracer.Start(ctx, "ghostwriter.task "+task,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", consumer),
			attribute.String("messaging.message.id", env.ID),
			attribute.String("ghostwriter.task", task),
		))
}

// outputTraceparent is the traceparent of the task's outputs: the task
// span's own when tracing records, else a child of the input's (same trace
// id, new span id), so the product can follow a ticket either way.
func outputTraceparent(ctx context.Context, input string) string {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		sc := span.SpanContext()
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
		if tp := carrier.Get("traceparent"); tp != "" {
			return tp
		}
	}
	return schemas.ChildTraceparent(input)
}
