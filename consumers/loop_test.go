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
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// runLoop runs a loop on the drafts consumer until the test ends.
func (h *harness) runLoop(l *consumers.Loop) {
	h.t.Helper()
	c, err := h.js.Consumer(h.ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		h.t.Fatal(err)
	}
	l.Consumer, l.Logger = c, slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.Run(ctx); err != nil {
			h.t.Errorf("loop: %v", err)
		}
	})
	h.t.Cleanup(func() { cancel(); wg.Wait() })
}

// Handlers slower than AckWait, and more messages than handlers: the
// loop pulls only for free handlers, so no message waits unheartbeated
// in a client buffer and none is delivered twice.
func TestLoopPullsOnlyForFreeHandlers(t *testing.T) {
	h := newHarness(t) // AckWait 2s
	var handled, redelivered atomic.Int64
	h.runLoop(&consumers.Loop{Concurrency: 2, InProgressEvery: 300 * time.Millisecond,
		Handler: func(ctx context.Context, msg jetstream.Msg) consumers.Decision {
			if meta, err := msg.Metadata(); err == nil && meta.NumDelivered > 1 {
				redelivered.Add(1)
			}
			time.Sleep(h.topo.Drafts.AckWait + 500*time.Millisecond)
			handled.Add(1)
			return consumers.Decision{Action: consumers.Ack}
		}})
	const n = 6
	for range n {
		h.publishRaw(schemas.TypeTicketCreated, []byte(`{}`))
	}
	h.settled(30 * time.Second)
	if handled.Load() != n || redelivered.Load() != 0 {
		t.Errorf("handled %d (want %d), %d of them redeliveries (want 0)", handled.Load(), n, redelivered.Load())
	}
	if info := h.consumerInfo(); info.Delivered.Consumer != n {
		t.Errorf("%d deliveries for %d messages", info.Delivered.Consumer, n)
	}
}

// A closed Gate leaves the messages on the server: nothing is delivered,
// so no delivery is spent; once it opens, all are handled.
func TestLoopGateLeavesMessagesOnServer(t *testing.T) {
	h := newHarness(t)
	var gate atomic.Int64
	var handled atomic.Int64
	h.runLoop(&consumers.Loop{Concurrency: 4, Gate: func() int { return int(gate.Load()) },
		Handler: func(context.Context, jetstream.Msg) consumers.Decision {
			handled.Add(1)
			return consumers.Decision{Action: consumers.Ack}
		}})
	const n = 5
	for range n {
		h.publishRaw(schemas.TypeTicketCreated, []byte(`{}`))
	}
	h.waitFor("the messages on the stream", 5*time.Second, func() bool { return h.consumerInfo().NumPending == n })
	time.Sleep(time.Second) // the gate is asked every 250ms: give it a few chances to leak
	if info := h.consumerInfo(); info.Delivered.Consumer != 0 || handled.Load() != 0 {
		t.Fatalf("gate closed, yet %d deliveries and %d handled", info.Delivered.Consumer, handled.Load())
	}
	gate.Store(1)
	h.settled(10 * time.Second)
	if info := h.consumerInfo(); handled.Load() != n || info.Delivered.Consumer != n {
		t.Errorf("handled %d, delivered %d; want %d each", handled.Load(), info.Delivered.Consumer, n)
	}
}
