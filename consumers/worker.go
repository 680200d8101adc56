package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/metrics"
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
	// Metrics, when set, counts and times every decision.
	Metrics *metrics.Metrics

	loop atomic.Pointer[Loop]
}

// Ready reports nil while the worker consumes and its consumer answers.
func (w *Worker) Ready() error {
	l := w.loop.Load()
	if l == nil {
		return errors.New("worker not started")
	}
	return l.Healthy()
}

// ConsumerState reads a durable consumer's backlog for metrics.
func ConsumerState(js jetstream.JetStream, stream, consumer string) func(ctx context.Context) (metrics.ConsumerState, error) {
	return func(ctx context.Context) (metrics.ConsumerState, error) {
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			return metrics.ConsumerState{}, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return metrics.ConsumerState{}, err
		}
		return metrics.ConsumerState{Pending: info.NumPending, AckPending: uint64(info.NumAckPending), Redelivered: uint64(info.NumRedelivered)}, nil
	}
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
		MaxDeliver: cfg.MaxDeliver, Backoff: w.Backoff, Logger: log, Metrics: w.Metrics,
	}
	loop := &Loop{
		Consumer:        cons,
		Handler:         drafts.Handle,
		Concurrency:     w.Concurrency,
		InProgressEvery: cfg.AckWait / 4,
		Logger:          log,
	}
	w.loop.Store(loop)
	return loop.Run(ctx)
}
