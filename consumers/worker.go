package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// Prompts holds the prompt versions a replay may ask for.
	Prompts *prompts.Set
	// ReplayShare is the share of Concurrency given to replays (default
	// 0.25, at least one at a time), so a large replay never starves live
	// tickets.
	ReplayShare float64
	// Grace is how long tickets in flight may finish after ctx ends
	// (default 30s); then they are canceled and handed back with a delay.
	Grace time.Duration
	// InProgressEvery overrides the in-progress heartbeat period, which
	// is otherwise a quarter of the consumer's AckWait. Tests only: the
	// chaos suite sets it beyond AckWait to show redelivery without it.
	InProgressEvery time.Duration
	// AfterPublish, when set, is called after a task's result has its
	// PubAck and before the tasks bucket or the input's ack hear of it.
	// Tests only: the chaos suite crashes the process there.
	AfterPublish func()

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

// Run consumes ticket.created, and what replays feed, until ctx ends;
// see Loop.Run for shutdown. Live tickets come first: replays get their
// own, smaller share of the concurrency. The streams, consumers and bucket
// must exist (Apply).
func (w *Worker) Run(ctx context.Context) error {
	live, err := w.loopFor(ctx, schemas.StreamTickets, schemas.ConsumerDrafts, w.Concurrency)
	if err != nil {
		return err
	}
	replay, err := w.loopFor(ctx, schemas.StreamReplay, schemas.ConsumerReplay, w.replayConcurrency())
	if err != nil {
		return err
	}
	w.loop.Store(live)
	var wg sync.WaitGroup
	var replayErr error
	wg.Go(func() { replayErr = replay.Run(ctx) })
	err = live.Run(ctx)
	wg.Wait()
	return errors.Join(err, replayErr)
}

// replayConcurrency is the replay loop's share: ReplayShare of the live
// concurrency (default a quarter), at least one.
func (w *Worker) replayConcurrency() int {
	share := w.ReplayShare
	if share <= 0 {
		share = 0.25
	}
	return max(1, int(float64(max(w.Concurrency, 1))*share))
}

// loopFor wires a drafts handler to one durable consumer. Delivery
// settings come from the consumer itself, so workers and the server
// cannot disagree about them.
func (w *Worker) loopFor(ctx context.Context, stream, consumer string, concurrency int) (*Loop, error) {
	cons, err := w.JS.Consumer(ctx, stream, consumer)
	if err != nil {
		return nil, fmt.Errorf("consumers.worker: consumer %s: %w", consumer, err)
	}
	tasks, err := w.JS.KeyValue(ctx, schemas.BucketTasks)
	if err != nil {
		return nil, fmt.Errorf("consumers.worker: bucket %s: %w", schemas.BucketTasks, err)
	}
	cfg := cons.CachedInfo().Config
	log := logger(w.Logger).With("consumer", consumer)
	drafts := &Drafts{
		JS: w.JS, Tasks: tasks, Pipeline: w.Pipeline, Prompt: w.Prompt, Prompts: w.Prompts,
		MaxDeliver: cfg.MaxDeliver, Backoff: w.Backoff, Logger: log, Metrics: w.Metrics,
		AfterPublish: w.AfterPublish,
	}
	every := cfg.AckWait / 4
	if w.InProgressEvery > 0 {
		every = w.InProgressEvery
	}
	return &Loop{
		Consumer:        cons,
		Handler:         drafts.Handle,
		Concurrency:     concurrency,
		InProgressEvery: every,
		Gate:            modelGate(w.Pipeline, concurrency),
		Grace:           w.Grace,
		Logger:          log,
	}, nil
}

// modelGate holds the loop back while no model can be called: with every
// endpoint's circuit open, a delivery would only fail fast and be handed
// back, spending one of its MaxDeliver deliveries for nothing; while one
// is half open, a single ticket probes it. A pipeline with one bare
// Model, or with an endpoint without a breaker (the rules model), is
// never held.
func modelGate(p *pipeline.Pipeline, concurrency int) func() int {
	if p == nil || len(p.Endpoints) == 0 {
		return nil
	}
	// Only the endpoints some route can reach count.
	var eps []*pipeline.Endpoint
	seen := map[string]bool{}
	for _, r := range p.Routes {
		for _, alias := range r.Chain {
			if ep := p.Endpoints[alias]; ep != nil && !seen[alias] {
				seen[alias] = true
				eps = append(eps, ep)
			}
		}
	}
	if len(eps) == 0 {
		return nil
	}
	return func() int {
		half := false
		for _, ep := range eps {
			switch ep.BreakerState() {
			case pipeline.StateClosed:
				return concurrency
			case pipeline.StateHalfOpen:
				half = true
			}
		}
		if half {
			return 1
		}
		return 0
	}
}
