package pipeline

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracer is the global provider's: a no-op, and free, until the binary
// installs an exporting one.
var tracer = otel.Tracer("github.com/ghostwriter-ai/ghostwriter/pipeline")

// callSpanAttrs are the GenAI semantic-convention attributes of a model
// call span, set once the call has answered.
func callSpanAttrs(ep *Endpoint, req Request, resp Response) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("gen_ai.system", ep.Provider),
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.request.model", req.Model),
		attribute.Int("gen_ai.request.max_tokens", req.MaxTokens),
		attribute.Float64("gen_ai.request.temperature", float64(req.Temperature)),
		attribute.String("gen_ai.response.model", resp.Model),
		attribute.StringSlice("gen_ai.response.finish_reasons", []string{resp.FinishReason}),
		attribute.Int("gen_ai.usage.input_tokens", resp.InputTokens),
		attribute.Int("gen_ai.usage.output_tokens", resp.OutputTokens),
	}
}

// endSpan ends span, marking it failed with err's code when err is set.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, string(CodeOf(err)))
		span.SetAttributes(attribute.String("error.type", string(CodeOf(err))))
	}
	span.End()
}
