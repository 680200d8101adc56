package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/metrics"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// env is one scenario's world: a fresh embedded JetStream server with file
// storage in its own temporary folder, ghostwriter's topology applied, and
// a connection for the bench's own producer and observer. Workers get
// connections of their own, as separate processes would. Scenarios never
// share an env, so one's backlog or files cannot slow the next.
type env struct {
	dir string
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	// pubErrs counts asynchronous publishes of the bench's producer that
	// failed.
	pubErrs atomic.Int64
}

// newEnv starts the server and applies topo.
func newEnv(ctx context.Context, topo consumers.Topology) (*env, error) {
	dir, err := os.MkdirTemp("", "ghostwriter-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench.env: %w", err)
	}
	e := &env{dir: dir}
	e.srv, err = embednats.Start(embednats.Options{Listen: "127.0.0.1:-1", StoreDir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench.env: %w", err)
	}
	e.nc, err = nats.Connect(e.srv.ClientURL(), nats.Name("ghostwriter-bench"))
	if err == nil {
		e.js, err = jetstream.New(e.nc,
			jetstream.WithPublishAsyncMaxPending(4096),
			jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { e.pubErrs.Add(1) }))
	}
	if err == nil {
		// The bench measures the draft task: no other task's consumer
		// keeps state for the backlog on the server.
		topo.Tasks = []schemas.Task{schemas.TaskSupportDraft}
		err = consumers.Apply(ctx, e.js, topo)
	}
	if err != nil {
		e.close()
		return nil, fmt.Errorf("bench.env: %w", err)
	}
	return e, nil
}

// close stops the server and removes its files.
func (e *env) close() {
	if e.nc != nil {
		e.nc.Close()
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	os.RemoveAll(e.dir)
}

// connect opens another connection, as another process would.
func (e *env) connect(name string, natsOpts []nats.Option, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(e.srv.ClientURL(), append(natsOpts, nats.Name(name))...)
	if err != nil {
		return nil, nil, fmt.Errorf("bench.connect: %w", err)
	}
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("bench.connect: %w", err)
	}
	return nc, js, nil
}

// publish sends one ticket.created asynchronously with its event id as
// Nats-Msg-Id, as a product should. When too many publishes wait for their
// PubAck it waits for room rather than fail.
func (e *env) publish(ctx context.Context, id string, raw []byte) error {
	m := nats.NewMsg(schemas.TypeTicketCreated)
	m.Data = raw
	for {
		_, err := e.js.PublishMsgAsync(m, jetstream.WithMsgID(id))
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return err
		}
		select {
		case <-e.js.PublishAsyncComplete():
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flush waits until every publish so far has its PubAck, and fails if
// any was refused.
func (e *env) flush(ctx context.Context) error {
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
		return fmt.Errorf("bench.flush: %w", ctx.Err())
	}
	if n := e.pubErrs.Load(); n > 0 {
		return fmt.Errorf("bench.flush: %d publishes failed", n)
	}
	return nil
}

// preload publishes n tickets, prefix-0 to prefix-(n-1), before any worker
// starts, and waits for all their PubAcks.
func (e *env) preload(ctx context.Context, c corpus, prefix string, n int, trace func(i int) string) error {
	for i := range n {
		tp := ""
		if trace != nil {
			tp = trace(i)
		}
		if err := e.publish(ctx, prefix+"-"+strconv.Itoa(i), c.envelope(prefix, i, tp)); err != nil {
			return fmt.Errorf("bench.preload: %w", err)
		}
	}
	return e.flush(ctx)
}

// remaining reads how many messages a durable consumer has not acked yet:
// pending plus delivered-but-unacked. The broker's own count, so the bench
// needs no hook inside the worker.
func (e *env) remaining(ctx context.Context, stream, consumer string) (uint64, error) {
	c, err := e.js.Consumer(ctx, stream, consumer)
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// results counts the ticket.draft_ready and ticket.draft_failed events
// stored in TICKETS.
func (e *env) results(ctx context.Context) (ready, failed uint64, err error) {
	s, err := e.js.Stream(ctx, schemas.StreamTickets)
	if err != nil {
		return 0, 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("ticket.*"))
	if err != nil {
		return 0, 0, err
	}
	return info.State.Subjects[schemas.TypeDraftReady], info.State.Subjects[schemas.TypeDraftFailed], nil
}

// drain is the outcome of waiting for a consumer to work off a backlog.
type drain struct {
	measured int           // messages acked inside the measured span
	took     time.Duration // wall time of the measured span
	cpu      time.Duration // process CPU time in that span
}

func (d drain) perSecond() float64 {
	if d.took <= 0 {
		return 0 // nothing measured: a tiny run whose warm-up took it all
	}
	return float64(d.measured) / d.took.Seconds()
}

func (d drain) cpuMicrosEach() float64 {
	return float64(d.cpu.Microseconds()) / float64(max(d.measured, 1))
}

// pollEvery is how often the bench asks the broker for a consumer's state.
const pollEvery = 20 * time.Millisecond

// stallAfter ends a scenario whose consumer made no progress for so long.
const stallAfter = 60 * time.Second

// waitDrained polls a consumer until all n messages are acked. The span
// measured starts when at least warm of them are (warm-up excluded; 0
// starts at once) and ends when the last one is.
func (e *env) waitDrained(ctx context.Context, stream, consumer string, n, warm int) (drain, error) {
	var t0 time.Time
	var cpu0 time.Duration
	done0 := 0
	if warm <= 0 {
		t0, cpu0 = time.Now(), cpuTime()
	}
	lastDone, lastProgress := -1, time.Now()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		left, err := e.remaining(ctx, stream, consumer)
		if err != nil {
			return drain{}, fmt.Errorf("bench.drain %s: %w", consumer, err)
		}
		done := n - int(min(left, uint64(n)))
		now := time.Now()
		if t0.IsZero() && done >= warm {
			t0, cpu0, done0 = now, cpuTime(), done
		}
		if done >= n {
			return drain{measured: n - done0, took: now.Sub(t0), cpu: cpuTime() - cpu0}, nil
		}
		if done != lastDone {
			lastDone, lastProgress = done, now
		} else if now.Sub(lastProgress) > stallAfter {
			return drain{}, fmt.Errorf("bench.drain %s: no progress for %v at %d of %d", consumer, stallAfter, done, n)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return drain{}, fmt.Errorf("bench.drain %s: %w", consumer, ctx.Err())
		}
	}
}

// quiesce pauses a durable consumer and waits until no delivery of it is
// left unacked, so that the worker holds no ticket and makes no garbage;
// resume ends the pause. It gives up after stallAfter.
func (e *env) quiesce(ctx context.Context, stream, consumer string) (resume func() error, took time.Duration, err error) {
	start := time.Now()
	if _, err := e.js.PauseConsumer(ctx, stream, consumer, start.Add(10*stallAfter)); err != nil {
		return nil, 0, fmt.Errorf("bench.quiesce %s: %w", consumer, err)
	}
	resume = func() error {
		if _, err := e.js.ResumeConsumer(ctx, stream, consumer); err != nil {
			return fmt.Errorf("bench.quiesce %s: resume: %w", consumer, err)
		}
		return nil
	}
	c, err := e.js.Consumer(ctx, stream, consumer)
	for err == nil {
		var info *jetstream.ConsumerInfo
		if info, err = c.Info(ctx); err != nil {
			break
		}
		if info.NumAckPending == 0 {
			return resume, time.Since(start), nil
		}
		if time.Since(start) > stallAfter {
			err = fmt.Errorf("%d deliveries still unacked after %v", info.NumAckPending, stallAfter)
			break
		}
		err = sleep(ctx, pollEvery)
	}
	return nil, 0, errors.Join(fmt.Errorf("bench.quiesce %s: %w", consumer, err), resume())
}

// acked returns how many of n preloaded messages a consumer has acked.
func (e *env) acked(ctx context.Context, stream, consumer string, n int) (int, error) {
	left, err := e.remaining(ctx, stream, consumer)
	if err != nil {
		return 0, err
	}
	return n - int(min(left, uint64(n))), nil
}

// workerSpec is what a scenario's worker runs with.
type workerSpec struct {
	pipe        *pipeline.Pipeline
	concurrency int
	// onPubAck, when set, hears every PubAck of the worker's
	// asynchronous publishes (its results and cost events).
	onPubAck jetstream.MsgAckHandler
}

// startWorker runs the real worker (consumers.Worker, as `ghostwriter
// worker` wires it: metrics on, one JSON log line per message) on its own
// connection. The log is formatted but discarded: the bench measures the
// worker, not the terminal. stop ends it as SIGTERM would and waits.
func (e *env) startWorker(ctx context.Context, spec workerSpec) (stop func() error, err error) {
	var opts []jetstream.JetStreamOpt
	if spec.onPubAck != nil {
		opts = append(opts, jetstream.WithPublishAsyncAckHandler(spec.onPubAck))
	}
	closed := make(chan struct{})
	nc, js, err := e.connect("ghostwriter-bench-worker", []nats.Option{nats.ClosedHandler(func(*nats.Conn) { close(closed) })}, opts...)
	if err != nil {
		return nil, err
	}
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench.worker: %w", err)
	}
	prompt, err := set.Get("support_draft", "")
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bench.worker: %w", err)
	}
	w := &consumers.Worker{
		JS: js, Pipeline: spec.pipe, Prompt: prompt, Prompts: set, Concurrency: spec.concurrency,
		Logger:  discardLog,
		Metrics: metrics.New(prometheus.NewRegistry()),
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = w.Run(runCtx) })
	var once sync.Once
	stop = func() error {
		once.Do(func() {
			cancel()
			wg.Wait()
			// Drain, as the binary does, so the last acks reach the server.
			if err := nc.Drain(); err != nil {
				nc.Close()
			}
			<-closed
		})
		return runErr
	}
	return stop, nil
}
