package consumers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Worker drafts replies: the ghostwriter-drafts consumer, its handler and
// its loop, wired together. Several workers, in one process or many, share
// the durable consumer.
type Worker struct {
	JS       jetstream.JetStream
	Pipeline *pipeline.Pipeline
	Prompt   *prompts.Prompt
	// Concurrency is how many tickets this worker handles at once.
	Concurrency int
	// Backoff spaces retries of failed deliveries; nil means DefaultBackoff.
	Backoff []time.Duration
	Logger  *slog.Logger
}

// Run consumes ticket.created until ctx ends; see Loop.Run for shutdown.
// The streams, consumer and bucket must exist (Apply).
func (w *Worker) Run(ctx context.Context) error {
	cons, err := w.JS.Consumer(ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		return fmt.Errorf("consumers.worker: consumer %s: %w", schemas.ConsumerDrafts, err)
	}
	tasks, err := w.JS.KeyValue(ctx, schemas.BucketTasks)
	if err != nil {
		return fmt.Errorf("consumers.worker: bucket %s: %w", schemas.BucketTasks, err)
	}
	// Delivery settings come from the consumer itself, so workers and
	// the server cannot disagree about them.
	cfg := cons.CachedInfo().Config
	log := logger(w.Logger).With("consumer", schemas.ConsumerDrafts)
	drafts := &Drafts{
		JS: w.JS, Tasks: tasks, Pipeline: w.Pipeline, Prompt: w.Prompt,
		MaxDeliver: cfg.MaxDeliver, Backoff: w.Backoff, Logger: log,
	}
	loop := &Loop{
		Consumer:        cons,
		Handler:         drafts.Handle,
		Concurrency:     w.Concurrency,
		InProgressEvery: cfg.AckWait / 4,
		Logger:          log,
	}
	return loop.Run(ctx)
}
