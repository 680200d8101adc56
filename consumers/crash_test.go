package consumers_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// A worker that dies after its result's PubAck, before the tasks bucket
// and the ack hear of it (its connection closes there, as a killed
// process's would): the redelivery, on another worker, publishes the same
// events again (dropped as duplicates) and makes no second model call.
func TestCrashAfterPublishCostsNoSecondCall(t *testing.T) {
	h := newHarness(t)
	model := &countingModel{}
	dying := h.connect()
	js, err := jetstream.New(dying)
	if err != nil {
		t.Fatal(err)
	}
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("support_draft", "v1")
	if err != nil {
		t.Fatal(err)
	}
	var crashed atomic.Bool
	w := &consumers.Worker{JS: js, Prompt: p, Prompts: set, Concurrency: 1,
		Pipeline: &pipeline.Pipeline{Model: model, CallTimeout: time.Second, Retry: testRetry},
		Backoff:  []time.Duration{50 * time.Millisecond}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AfterPublish: func() {
			if crashed.CompareAndSwap(false, true) {
				dying.Close()
			}
		}}
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) }) // ends with the connection
	t.Cleanup(func() { cancel(); wg.Wait() })

	id := h.publishTicket("", refund)
	h.waitFor("the crash after the PubAck", 10*time.Second, crashed.Load)
	h.startWorker(model, 1)
	h.settled(20 * time.Second)

	if res := h.terminal()[id]; len(res) != 1 || res[0].Type != schemas.TypeDraftReady {
		t.Fatalf("results for %s: %+v, want one draft_ready", id, res)
	}
	if calls := model.calls.Load(); calls != 1 {
		t.Errorf("%d model calls, want 1: the redelivery called the model again", calls)
	}
	if costs := h.events(schemas.StreamCosts, schemas.TypeCost); len(costs) != 1 {
		t.Errorf("%d ai.cost events, want 1", len(costs))
	}
	if info := h.consumerInfo(); info.NumRedelivered != 0 || info.Delivered.Consumer < 2 {
		t.Errorf("consumer delivered %d times (redelivered pending %d); want the ticket redelivered once and acked", info.Delivered.Consumer, info.NumRedelivered)
	}
}
