package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Action is what the loop does with a message once its handler returns.
type Action int

const (
	// Ack: the message is done; every output it caused has its PubAck.
	Ack Action = iota
	// Nak: redeliver after Decision.Delay.
	Nak
	// Term: never redeliver; only for messages already dealt with some
	// other way (a dead letter or a failed event has been published).
	Term
)

func (a Action) String() string {
	switch a {
	case Ack:
		return "ack"
	case Nak:
		return "nak"
	case Term:
		return "term"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Decision is a handler's verdict on one message. The loop applies it and
// logs it once, with Attrs.
type Decision struct {
	Action Action
	Delay  time.Duration // for Nak
	Reason string        // why, in a few words; for Term and the log
	Attrs  []slog.Attr
	// Warn logs the decision at warning level: all went as it should,
	// but an operator should know (a tenant over a soft budget limit).
	Warn bool
}

// Handler processes one message and returns what to do with it. It must
// not ack, nak or term the message itself; it may be called concurrently.
type Handler func(ctx context.Context, msg jetstream.Msg) Decision

// Loop consumes a durable pull consumer with bounded concurrency. While a
// handler runs, the loop tells the server the message is in progress, so
// a slow model call is not redelivered to another worker.
type Loop struct {
	Consumer jetstream.Consumer
	Handler  Handler
	// Concurrency is how many messages are handled at once (default 1).
	Concurrency int
	// InProgressEvery is the heartbeat period; keep it well under the
	// consumer's AckWait (default 10s).
	InProgressEvery time.Duration
	// Grace is how long in-flight handlers may run after the loop's
	// context ends before their own context is canceled (default 30s).
	Grace time.Duration
	// Gate, when set, says how many handlers may run now, at most
	// Concurrency: 0 leaves the messages on the server (the model's
	// circuit is open), 1 lets one probe through. It is asked before
	// every fetch.
	Gate   func() int
	Logger *slog.Logger

	running   atomic.Bool
	lastOK    atomic.Int64 // unix nanoseconds of the last message
	lastError atomic.Int64 // unix nanoseconds of the last fetch error
}

// pullWait bounds one fetch (one pull request); gateWait is how often a
// shut Gate is asked again.
const (
	pullWait = 2 * time.Second
	gateWait = 250 * time.Millisecond
)

// staleError is how long a fetch error (a missed heartbeat, a deleted
// consumer) keeps the loop unhealthy unless a message arrives after it.
const staleError = 15 * time.Second

// Healthy reports nil while the loop runs and its consumer answers: no
// fetch error in the last 15 seconds that a later message has not
// cleared. Safe for concurrent use.
func (l *Loop) Healthy() error {
	if !l.running.Load() {
		return errors.New("consumer loop not running")
	}
	errAt, okAt := l.lastError.Load(), l.lastOK.Load()
	if errAt != 0 && errAt > okAt && time.Since(time.Unix(0, errAt)) < staleError {
		return errors.New("consumer not answering (missed heartbeats or consumer gone)")
	}
	return nil
}

// Run consumes until ctx ends, then stops fetching, hands messages that
// arrive after that back to the server, waits up to Grace for in-flight
// handlers and returns. It returns an error if the connection closed for
// good before ctx ended.
//
// It pulls only as many messages as it has free handlers (and Gate
// allows): a message fetched but not started would get no in-progress
// heartbeat, and with slow model calls the server would redeliver it
// after AckWait while it waited in a client buffer.
func (l *Loop) Run(ctx context.Context) error {
	n := max(l.Concurrency, 1)
	l.running.Store(true)
	defer l.running.Store(false)

	// Handlers get a context that outlives ctx by Grace, so a shutdown
	// lets in-flight work finish instead of wasting a paid model call.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	release := func() { <-sem }
	// Handlers run on goroutines that outlive a message, started as
	// needed up to n: a goroutine per message grew a fresh stack for each
	// one, 3% of the worker's CPU (make bench). An idle handler waits in
	// idle with its own mailbox; it joins idle before it releases its
	// slot, so there are never more than n of them.
	idle := make(chan chan jetstream.Msg, n)
	stop := make(chan struct{})
	handler := func(msg jetstream.Msg) {
		defer wg.Done()
		mine := make(chan jetstream.Msg, 1)
		for {
			l.handle(work, msg)
			idle <- mine
			release()
			select {
			case msg = <-mine:
			case <-stop:
				// The loop sends to a mailbox before it closes stop.
				select {
				case msg = <-mine:
				default:
					return
				}
			}
		}
	}
	var runErr error
	for ctx.Err() == nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		limit := n
		if l.Gate != nil {
			limit = min(n, l.Gate())
		}
		if len(sem) > limit {
			// No more may run now (the model's circuit is open): leave
			// the messages on the server, where waiting costs no delivery.
			release()
			sleep(ctx, gateWait)
			continue
		}
		free := 1
	more:
		for len(sem) < limit {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break more
			}
		}
		// The fetch ends with ctx, so shutdown does not wait for it; a
		// message the server sent at that very moment comes back after
		// AckWait.
		fctx, cancelFetch := context.WithTimeout(ctx, pullWait)
		batch, err := l.Consumer.Fetch(free, jetstream.FetchContext(fctx))
		if err != nil {
			cancelFetch()
			for range free {
				release()
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				runErr = fmt.Errorf("consumers.loop: %w", err)
				break
			}
			l.lastError.Store(time.Now().UnixNano())
			l.logger().Warn("consume", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			if ctx.Err() != nil {
				// Fetched but not started: let another worker have it now.
				if err := msg.Nak(); err != nil {
					l.logger().Warn("nak on shutdown", "err", err)
				}
				release()
				continue
			}
			l.lastOK.Store(time.Now().UnixNano())
			select {
			case h := <-idle:
				h <- msg
			default:
				wg.Add(1)
				go handler(msg)
			}
		}
		cancelFetch()
		for range free - got {
			release()
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			// Heartbeat and consumer errors are not fatal: the next
			// fetch is a new pull request (nats.go#1729).
			l.lastError.Store(time.Now().UnixNano())
			l.logger().Warn("consume", "err", err)
			if errors.Is(err, nats.ErrConnectionClosed) {
				runErr = fmt.Errorf("consumers.loop: %w", err)
				break
			}
			sleep(ctx, 250*time.Millisecond)
		}
	}
	close(stop)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := l.Grace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	select {
	case <-done:
	case <-time.After(grace):
		cancelWork()
		<-done
	}
	return runErr
}

func (l *Loop) logger() *slog.Logger { return logger(l.Logger) }

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// handle runs the handler with an in-progress heartbeat, applies its
// decision and logs it once.
func (l *Loop) handle(ctx context.Context, msg jetstream.Msg) {
	every := l.InProgressEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	beat := startHeartbeat(msg, every)
	d := l.safeHandle(ctx, msg)
	beat.stop()

	var err error
	switch d.Action {
	case Ack:
		// A plain ack, not a confirmed one (DoubleAck): every decision to
		// ack is recorded first (a handler's tasks bucket, the ledger's
		// table), so a lost ack costs a redelivery that is acked as a
		// duplicate, never a second model call or write. The confirmation
		// cost 7 to 10% of the worker's CPU (make bench).
		err = msg.Ack()
	case Nak:
		err = msg.NakWithDelay(d.Delay)
	case Term:
		err = msg.TermWithReason(d.Reason)
	}
	attrs := append(d.Attrs, slog.String("decision", d.Action.String()))
	if meta, merr := msg.Metadata(); merr == nil {
		attrs = append(attrs, slog.Uint64("stream_seq", meta.Sequence.Stream), slog.Uint64("deliveries", meta.NumDelivered))
	}
	if d.Reason != "" {
		attrs = append(attrs, slog.String("reason", d.Reason))
	}
	if d.Action == Nak {
		attrs = append(attrs, slog.Duration("delay", d.Delay))
	}
	level := slog.LevelInfo
	if d.Warn {
		level = slog.LevelWarn
	}
	if err != nil {
		// The server redelivers after AckWait; nothing is lost.
		level, attrs = slog.LevelWarn, append(attrs, slog.String("ack_err", err.Error()))
	}
	l.logger().LogAttrs(ctx, level, "handled", attrs...)
}

// safeHandle turns a handler panic into a delayed redelivery: one bad
// message must not take the worker down. MaxDeliver ends the retries.
func (l *Loop) safeHandle(ctx context.Context, msg jetstream.Msg) (d Decision) {
	defer func() {
		if r := recover(); r != nil {
			l.logger().Error("handler panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			d = Decision{Action: Nak, Delay: 30 * time.Second, Reason: "handler panic"}
		}
	}()
	return l.Handler(ctx, msg)
}

// heartbeat tells the server every period that a message is in progress,
// from a timer rather than a goroutine of its own: at C = 2,000 in flight
// that is 2,000 goroutines, tickers and contexts fewer (make bench).
type heartbeat struct {
	mu      sync.Mutex
	stopped bool
	t       *time.Timer
}

func startHeartbeat(msg jetstream.Msg, every time.Duration) *heartbeat {
	h := &heartbeat{}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.t = time.AfterFunc(every, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.stopped {
			return
		}
		_ = msg.InProgress() // a lost heartbeat costs at most a redelivery
		h.t.Reset(every)
	})
	return h
}

// stop ends the heartbeat; once it returns, no in-progress is sent.
func (h *heartbeat) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.t.Stop()
}
