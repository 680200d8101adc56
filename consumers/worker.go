package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/metrics"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Worker runs AI tasks: each task's durable consumer, handler and loop,
// and one loop for what replays feed, wired together. Several workers, in
// one process or many, share the durable consumers.
type Worker struct {
	JS       jetstream.JetStream
	Pipeline *pipeline.Pipeline
	// Tasks are the tasks to run, each on its own consumer. Empty means
	// support_draft alone, with Prompt.
	Tasks  []Task
	Prompt *prompts.Prompt
	// Concurrency is how many events each task handles at once.
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

	loops atomic.Pointer[[]*Loop]
}

// Task is one task a worker runs: what configuration says of it, and the
// prompt it runs.
type Task struct {
	Spec   schemas.Task
	Prompt *prompts.Prompt
}

// tasks returns the tasks to run.
func (w *Worker) tasks() []Task {
	if len(w.Tasks) == 0 {
		return []Task{{Spec: schemas.TaskSupportDraft, Prompt: w.Prompt}}
	}
	return w.Tasks
}

// Ready reports nil while the worker consumes and its consumer answers.
func (w *Worker) Ready() error {
	loops := w.loops.Load()
	if loops == nil {
		return errors.New("worker not started")
	}
	for _, l := range *loops {
		if err := l.Healthy(); err != nil {
			return err
		}
	}
	return nil
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

// Run consumes each task's trigger, and what replays feed, until ctx
// ends; see Loop.Run for shutdown. Live events come first: replays get
// their own, smaller share of the concurrency. The streams, consumers and
// bucket must exist (Apply).
func (w *Worker) Run(ctx context.Context) error {
	bucket, err := w.JS.KeyValue(ctx, schemas.BucketTasks)
	if err != nil {
		return fmt.Errorf("consumers.worker: bucket %s: %w", schemas.BucketTasks, err)
	}
	var loops []*Loop
	for _, t := range w.tasks() {
		if err := schemas.RegisterResult(t.Spec, t.Prompt.OutputSchema); err != nil {
			return fmt.Errorf("consumers.worker: %w", err)
		}
		l, err := w.loopFor(ctx, schemas.StreamTickets, t.Spec.Consumer, t.Spec.Name, w.Concurrency, func(cfg jetstream.ConsumerConfig, log *slog.Logger) Handler {
			return w.handler(bucket, t, cfg, log).Handle
		})
		if err != nil {
			return err
		}
		loops = append(loops, l)
	}
	replay, err := w.loopFor(ctx, schemas.StreamReplay, schemas.ConsumerReplay, "", w.replayConcurrency(), func(cfg jetstream.ConsumerConfig, log *slog.Logger) Handler {
		handlers := map[string]*TaskHandler{}
		for _, t := range w.tasks() {
			handlers[t.Spec.Name] = w.handler(bucket, t, cfg, log)
		}
		return replayHandler(handlers, w.tasks()[0].Spec.Name)
	})
	if err != nil {
		return err
	}
	loops = append(loops, replay)
	w.loops.Store(&loops)
	errs := make([]error, len(loops))
	var wg sync.WaitGroup
	for i, l := range loops {
		wg.Go(func() { errs[i] = l.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// handler is the handler of task t on a consumer with settings cfg.
func (w *Worker) handler(bucket jetstream.KeyValue, t Task, cfg jetstream.ConsumerConfig, log *slog.Logger) *TaskHandler {
	return &TaskHandler{
		JS: w.JS, Tasks: bucket, Spec: t.Spec, Pipeline: w.Pipeline, Prompt: t.Prompt, Prompts: w.Prompts,
		MaxDeliver: cfg.MaxDeliver, Backoff: w.Backoff, Logger: log, Metrics: w.Metrics,
		AfterPublish: w.AfterPublish,
	}
}

// replayHandler hands a replayed event to the handler of the task its
// replay names (the first task when it names none). A task this worker
// does not run goes back to the queue for a worker that does.
func replayHandler(handlers map[string]*TaskHandler, first string) Handler {
	return func(ctx context.Context, msg jetstream.Msg) Decision {
		task := msg.Headers().Get(schemas.HeaderReplayTask)
		if task == "" {
			task = first
		}
		h, ok := handlers[task]
		if !ok {
			return Decision{Action: Nak, Delay: DefaultBackoff[0], Reason: "replay for task " + task + ", which this worker does not run"}
		}
		return h.Handle(ctx, msg)
	}
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

// loopFor wires a handler to one durable consumer. Delivery settings
// come from the consumer itself, so workers and the server cannot disagree
// about them.
func (w *Worker) loopFor(ctx context.Context, stream, consumer, task string, concurrency int, handler func(jetstream.ConsumerConfig, *slog.Logger) Handler) (*Loop, error) {
	cons, err := w.JS.Consumer(ctx, stream, consumer)
	if err != nil {
		return nil, fmt.Errorf("consumers.worker: consumer %s: %w", consumer, err)
	}
	cfg := cons.CachedInfo().Config
	log := logger(w.Logger).With("consumer", consumer)
	every := cfg.AckWait / 4
	if w.InProgressEvery > 0 {
		every = w.InProgressEvery
	}
	return &Loop{
		Consumer:        cons,
		Handler:         handler(cfg, log),
		Concurrency:     concurrency,
		InProgressEvery: every,
		Gate:            modelGate(w.Pipeline, task, concurrency),
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
func modelGate(p *pipeline.Pipeline, task string, concurrency int) func() int {
	if p == nil || len(p.Endpoints) == 0 {
		return nil
	}
	// Only the endpoints some route of the task ("" for any) can reach
	// count.
	var eps []*pipeline.Endpoint
	seen := map[string]bool{}
	for _, r := range p.Routes {
		if task != "" && len(r.When.Tasks) > 0 && !slices.Contains(r.When.Tasks, task) {
			continue
		}
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
