package consumers_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The embedded server's and client's own background goroutines
		// end shortly after Shutdown/Close, not synchronously.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Shutdown.func1"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).syncBlocks"),
	)
}

// harness is one in-process JetStream server with ghostwriter's topology.
type harness struct {
	t    *testing.T
	nc   *nats.Conn
	js   jetstream.JetStream
	topo consumers.Topology
	ctx  context.Context
	// prompts, when set, replaces the embedded prompts for the workers.
	prompts *prompts.Set
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	srv := embednats.StartTest(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo := consumers.DefaultTopology()
	topo.Drafts.AckWait = 2 * time.Second
	topo.Drafts.MaxDeliver = 5
	if err := consumers.Apply(ctx, js, topo); err != nil {
		t.Fatalf("apply: %v", err)
	}
	h := &harness{t: t, nc: nc, js: js, topo: topo, ctx: ctx}
	t.Cleanup(h.diagnose)
	return h
}

// diagnose logs the drafts consumer's state when a test failed.
func (h *harness) diagnose() {
	if !h.t.Failed() {
		return
	}
	c, err := h.js.Consumer(context.Background(), schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		h.t.Logf("diagnose: %v", err)
		return
	}
	info, err := c.Info(context.Background())
	if err != nil {
		h.t.Logf("diagnose: %v", err)
		return
	}
	h.t.Logf("drafts consumer: pending=%d ack_pending=%d redelivered=%d delivered=%d ack_floor=%d",
		info.NumPending, info.NumAckPending, info.NumRedelivered, info.Delivered.Stream, info.AckFloor.Stream)
}

// countingModel wraps a model and counts calls; a struct of funcs.
type countingModel struct {
	calls atomic.Int64
	next  func(ctx context.Context, req pipeline.Request) (pipeline.Response, error)
}

func (m *countingModel) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	m.calls.Add(1)
	if m.next == nil {
		return rules.Model{}.Complete(ctx, req)
	}
	return m.next(ctx, req)
}

// connect opens another client connection, closed when the test ends.
func (h *harness) connect() *nats.Conn {
	h.t.Helper()
	nc, err := nats.Connect(h.nc.ConnectedUrl())
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(nc.Close)
	return nc
}

// testRetry makes two attempts per delivery, a millisecond apart.
var testRetry = pipeline.RetryPolicy{MaxAttempts: 2, Initial: time.Millisecond, Max: 2 * time.Millisecond, Budget: 30 * time.Second}

// startWorker runs a worker until the returned stop is called (or the
// test ends).
func (h *harness) startWorker(model pipeline.Model, concurrency int) (stop func()) {
	h.t.Helper()
	return h.startWorkerOn(h.nc, model, concurrency)
}

// startWorkerOn runs a worker on its own connection.
func (h *harness) startWorkerOn(nc *nats.Conn, model pipeline.Model, concurrency int) (stop func()) {
	h.t.Helper()
	return h.startPipeline(nc, &pipeline.Pipeline{Model: model, CallTimeout: time.Second, Retry: testRetry}, concurrency)
}

// startPipeline runs a worker with the given pipeline on nc.
func (h *harness) startPipeline(nc *nats.Conn, pipe *pipeline.Pipeline, concurrency int) (stop func()) {
	h.t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		h.t.Fatal(err)
	}
	set := h.prompts
	if set == nil {
		if set, err = prompts.Load(prompts.Embedded); err != nil {
			h.t.Fatal(err)
		}
	}
	p, err := set.Get("support_draft", "v1")
	if err != nil {
		h.t.Fatal(err)
	}
	w := &consumers.Worker{
		JS: js, Prompt: p, Prompts: set, Concurrency: concurrency, Pipeline: pipe,
		Backoff: []time.Duration{50 * time.Millisecond},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil && !nc.IsClosed() {
			h.t.Errorf("worker: %v", err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	h.t.Cleanup(stop)
	return stop
}

// publishTicket publishes a ticket.created envelope and returns its id.
func (h *harness) publishTicket(id string, data schemas.TicketCreated) string {
	h.t.Helper()
	env, err := schemas.New(schemas.TypeTicketCreated, "test", id, data)
	if err != nil {
		h.t.Fatal(err)
	}
	raw, err := schemas.Encode(env)
	if err != nil {
		h.t.Fatal(err)
	}
	h.publishRaw(schemas.TypeTicketCreated, raw)
	return env.ID
}

func (h *harness) publishRaw(subject string, raw []byte) {
	h.t.Helper()
	if _, err := h.js.Publish(h.ctx, subject, raw); err != nil {
		h.t.Fatal(err)
	}
}

// events reads every message on subject from stream. Each one must decode
// strictly, which proves it validates against its schema file.
func (h *harness) events(stream, subject string) []schemas.Envelope {
	h.t.Helper()
	cons, err := h.js.OrderedConsumer(h.ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []schemas.Envelope
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			h.t.Fatal(err)
		}
		n, caughtUp := 0, false
		for m := range batch.Messages() {
			n++
			meta, _ := m.Metadata()
			caughtUp = meta != nil && meta.NumPending == 0
			env, err := schemas.Decode(m.Data())
			if err != nil {
				h.t.Fatalf("%s seq %d does not validate against its schema: %v", subject, meta.Sequence.Stream, err)
			}
			out = append(out, env)
		}
		if n == 0 || caughtUp {
			return out
		}
	}
}

// terminal returns the draft_ready and draft_failed events by source event id.
func (h *harness) terminal() map[string][]schemas.Envelope {
	h.t.Helper()
	bySource := map[string][]schemas.Envelope{}
	for _, typ := range []string{schemas.TypeDraftReady, schemas.TypeDraftFailed} {
		for _, env := range h.events(schemas.StreamTickets, typ) {
			var ref struct {
				SourceEventID string `json:"source_event_id"`
			}
			if err := env.DecodeData(&ref); err != nil {
				h.t.Fatal(err)
			}
			bySource[ref.SourceEventID] = append(bySource[ref.SourceEventID], env)
		}
	}
	return bySource
}

// waitFor polls cond until it holds or the deadline passes.
func (h *harness) waitFor(what string, within time.Duration, cond func() bool) {
	h.t.Helper()
	poll.Until(h.t, within, what, cond)
}

// deadLetters counts the dead letters by their error detail header.
func (h *harness) deadLetters() map[string]int {
	h.t.Helper()
	s, err := h.js.Stream(h.ctx, schemas.StreamDLQ)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(h.ctx, seq)
		if err != nil {
			h.t.Fatal(err)
		}
		out[m.Header.Get(schemas.HeaderErrorDetail)]++
	}
	return out
}

// consumerInfo returns the drafts consumer's state.
func (h *harness) consumerInfo() *jetstream.ConsumerInfo {
	h.t.Helper()
	c, err := h.js.Consumer(h.ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := c.Info(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return info
}

// settled waits until the drafts consumer has nothing pending or unacked.
func (h *harness) settled(within time.Duration) {
	h.t.Helper()
	c, err := h.js.Consumer(h.ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		h.t.Fatal(err)
	}
	// The consumer's pending count may lag a publish that has its PubAck:
	// settled also waits until the last ticket on the stream was delivered.
	var last uint64
	if stream, err := h.js.Stream(h.ctx, schemas.StreamTickets); err == nil {
		if m, err := stream.GetLastMsgForSubject(h.ctx, schemas.TypeTicketCreated); err == nil {
			last = m.Sequence
		}
	}
	h.waitFor("the drafts consumer to settle", within, func() bool {
		info, err := c.Info(h.ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= last
	})
}
