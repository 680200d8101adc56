package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// tracker follows tickets from their publish to their result's PubAck.
// Index i is the i-th ticket a producer sent; times are nanoseconds since
// epoch, plus one so that zero means "not yet". Safe for concurrent use.
type tracker struct {
	tag   uint64
	epoch time.Time
	pubAt []atomic.Int64
	model []atomic.Int64 // the model's own time, summed over calls
	ackAt []atomic.Int64
	// answered counts results of tracked tickets; shadow counts shadow
	// results (a replay's), whatever their ticket.
	answered atomic.Int64
	shadow   atomic.Int64
}

func newTracker(tag uint64, n int) *tracker {
	return &tracker{tag: tag, epoch: time.Now(), pubAt: make([]atomic.Int64, n),
		model: make([]atomic.Int64, n), ackAt: make([]atomic.Int64, n)}
}

func (t *tracker) now() int64 { return int64(time.Since(t.epoch)) + 1 }

// modelTime records a model call's duration for the ticket of trace id.
func (t *tracker) modelTime(id [16]byte, d time.Duration) {
	if i, ok := traceIndex(t.tag, id); ok && i < len(t.model) {
		t.model[i].Add(int64(d))
	}
}

// onPubAck is the worker's PubAck handler: a result's PubAck is the end of
// its ticket's latency. It runs on the client's ack goroutine, so it only
// stores a number.
func (t *tracker) onPubAck(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) {
	switch m.Subject {
	case schemas.TypeDraftReady, schemas.TypeDraftFailed:
		if i, ok := traceIndexOf(t.tag, m.Header.Get(schemas.HeaderTraceparent)); ok && i < len(t.ackAt) {
			if t.ackAt[i].CompareAndSwap(0, t.now()) {
				t.answered.Add(1)
			}
		}
	case schemas.SubjectShadowPrefix + schemas.TypeDraftReady, schemas.SubjectShadowPrefix + schemas.TypeDraftFailed:
		t.shadow.Add(1)
	}
}

// overheadMS returns, for tickets from..to-1, the time from publish to
// their result's PubAck minus the model's own time, in milliseconds;
// +Inf for a ticket with no result.
func (t *tracker) overheadMS(from, to int) []float64 {
	out := make([]float64, 0, max(to-from, 0))
	for i := from; i < to; i++ {
		pub, ack := t.pubAt[i].Load(), t.ackAt[i].Load()
		if pub == 0 || ack == 0 {
			out = append(out, math.Inf(1))
			continue
		}
		out = append(out, float64(ack-pub-t.model[i].Load())/float64(time.Millisecond))
	}
	return out
}

// answeredIn counts tickets from..to-1 answered by time at (tracker time).
func (t *tracker) answeredIn(from, to int, at int64) int {
	n := 0
	for i := from; i < to; i++ {
		if a := t.ackAt[i].Load(); a != 0 && a <= at {
			n++
		}
	}
	return n
}

// produce publishes tickets from..to-1 at rate per second, each with a
// traceparent that names it, and records when each was sent. It returns
// when the last one is sent; publishes are asynchronous, as a product's
// would be.
func (t *tracker) produce(ctx context.Context, e *env, c corpus, prefix string, from, to int, rate float64) error {
	start := time.Now()
	for i := from; i < to; i++ {
		due := start.Add(time.Duration(float64(i-from) / rate * float64(time.Second)))
		if d := time.Until(due); d > 500*time.Microsecond {
			if err := sleep(ctx, d); err != nil {
				return err
			}
		}
		raw := c.envelope(prefix, i, traceparent(t.tag, i))
		t.pubAt[i].Store(t.now())
		if err := e.publish(ctx, prefix+"-"+strconv.Itoa(i), raw); err != nil {
			return fmt.Errorf("bench.produce: %w", err)
		}
	}
	return nil
}

// Live is one run of scenario 5: a producer at a fixed rate, and the
// overhead of each ticket: publish to its result's PubAck, minus the
// model's own time (the rules model here, so almost nothing).
type Live struct {
	Rate    int     `json:"rate"`
	Seconds float64 `json:"seconds"`
	// P50MS, P99MS and P999MS are over the tickets sent after the
	// warm-up; null when the quantile falls on a ticket that got no
	// result before the bench stopped waiting.
	P50MS  *float64 `json:"p50_ms"`
	P99MS  *float64 `json:"p99_ms"`
	P999MS *float64 `json:"p999_ms"`
	MaxMS  *float64 `json:"max_ms"`
	// Sent is what the producer published in the measured span, and
	// SentPerS its achieved rate; AnsweredPerS is the results of those
	// tickets per second of that span.
	Sent         int     `json:"sent"`
	SentPerS     float64 `json:"sent_per_s"`
	AnsweredPerS float64 `json:"answered_per_s"`
	// Backlog is what the drafts consumer had not acked when the
	// producer stopped; Unanswered the tickets still without a result
	// when the bench stopped waiting for them.
	Backlog    uint64 `json:"backlog_at_stop"`
	Unanswered int    `json:"unanswered"`
	// CPUCores is the process's CPU time over the measured span's wall
	// time (worker, embedded server and the producer itself): how many
	// of the machine's cores this rate kept busy.
	CPUCores float64 `json:"cpu_cores"`
}

// drainWait is how long a live run waits, after its producer stops, for
// the results of what it sent.
func drainWait(cfg Config) time.Duration { return max(5*time.Second, cfg.LiveFor/2) }

// liveTopology is the default topology with room for the concurrency.
func liveTopology(cfg Config) consumers.Topology {
	topo := consumers.DefaultTopology()
	topo.Drafts.MaxAckPending = max(topo.Drafts.MaxAckPending, cfg.Concurrency)
	return topo
}

// timedRules is the rules pipeline whose model calls the tracker times.
func timedRules(tr *tracker) (*pipeline.Pipeline, error) {
	return rulesPipeline(func(m pipeline.Model) pipeline.Model { return timedModel{next: m, tr: tr} })
}

// runLive is scenario 5 at one rate.
func runLive(ctx context.Context, cfg Config, c corpus, rate int) (Live, error) {
	warm := int(float64(rate) * cfg.Warmup.Seconds())
	total := warm + int(float64(rate)*cfg.LiveFor.Seconds())
	tr := newTracker(0x6768_6f73_7400_0001, total)
	e, err := newEnv(ctx, liveTopology(cfg))
	if err != nil {
		return Live{}, err
	}
	defer e.close()
	pipe, err := timedRules(tr)
	if err != nil {
		return Live{}, err
	}
	stop, err := e.startWorker(ctx, workerSpec{pipe: pipe, concurrency: cfg.Concurrency, onPubAck: tr.onPubAck})
	if err != nil {
		return Live{}, err
	}
	defer stop()
	row, err := tr.live(ctx, cfg, e, c, "v", 0, warm, total, rate)
	if err != nil {
		return Live{}, err
	}
	return row, stop()
}

// live runs the producer over tickets from..total (the first warm of them
// unmeasured), waits for their results, and summarises.
func (t *tracker) live(ctx context.Context, cfg Config, e *env, c corpus, prefix string, from, warm, total, rate int) (Live, error) {
	if err := t.produce(ctx, e, c, prefix, from, from+warm, float64(rate)); err != nil {
		return Live{}, err
	}
	t0, cpu0 := time.Now(), cpuTime()
	if err := t.produce(ctx, e, c, prefix, from+warm, total, float64(rate)); err != nil {
		return Live{}, err
	}
	took := time.Since(t0)
	stopAt := t.now()
	backlog, err := e.remaining(ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		return Live{}, err
	}
	answeredBy := t.answeredIn(from+warm, total, stopAt)
	cpu := cpuTime() - cpu0
	// Wait for the rest, within reason: a producer faster than the
	// worker leaves a backlog that no wait would clear.
	deadline := time.Now().Add(drainWait(cfg))
	for t.answeredIn(from, total, math.MaxInt64) < total-from && time.Now().Before(deadline) {
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return Live{}, err
		}
	}
	if err := e.flush(ctx); err != nil {
		return Live{}, err
	}
	samples := t.overheadMS(from+warm, total)
	unanswered := 0
	for _, s := range samples {
		if math.IsInf(s, 1) {
			unanswered++
		}
	}
	q := percentiles(samples, 0.5, 0.99, 0.999, 1)
	sent := total - from - warm
	return Live{
		Rate: rate, Seconds: took.Seconds(),
		P50MS: finite(q[0]), P99MS: finite(q[1]), P999MS: finite(q[2]), MaxMS: finite(q[3]),
		Sent: sent, SentPerS: float64(sent) / took.Seconds(), AnsweredPerS: float64(answeredBy) / took.Seconds(),
		Backlog: backlog, Unanswered: unanswered,
		CPUCores: cpu.Seconds() / took.Seconds(),
	}, nil
}

// finite returns &v, or nil for NaN and infinities (no JSON number).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Replay is scenario 6: the live overhead at one rate without a replay,
// then with one running.
type Replay struct {
	Rate   int `json:"rate"`
	Events int `json:"events"`
	// Without is a live run alone; With a live run of the same length
	// during which the replay was started.
	Without Live `json:"without"`
	With    Live `json:"with"`
	// DuringP99MS is the p99 of the live tickets sent while the replay
	// was still being drafted, the span it can interfere with.
	DuringP99MS *float64 `json:"during_p99_ms"`
	DuringSent  int      `json:"during_sent"`
	// ReplayDone is how many replayed events were drafted (in shadow)
	// before the bench stopped, and ReplaySeconds how long all of them
	// took, when they all were.
	ReplayDone    int      `json:"replay_done"`
	ReplaySeconds *float64 `json:"replay_seconds"`
}

// runReplay is scenario 6. The history is ReplayEvents tickets drafted
// before the live runs; the replay feeds all of them again, in shadow (so
// the product's subjects carry only live results), through the worker's
// replay consumer, which has a quarter of its concurrency.
func runReplay(ctx context.Context, cfg Config, c corpus, rate int) (Replay, error) {
	warm := int(float64(rate) * cfg.Warmup.Seconds())
	each := warm + int(float64(rate)*cfg.LiveFor.Seconds())
	tr := newTracker(0x6768_6f73_7400_0002, 2*each)
	e, err := newEnv(ctx, liveTopology(cfg))
	if err != nil {
		return Replay{}, err
	}
	defer e.close()
	if err := e.preload(ctx, c, "h", cfg.ReplayEvents, nil); err != nil {
		return Replay{}, err
	}
	pipe, err := timedRules(tr)
	if err != nil {
		return Replay{}, err
	}
	stop, err := e.startWorker(ctx, workerSpec{pipe: pipe, concurrency: cfg.Concurrency, onPubAck: tr.onPubAck})
	if err != nil {
		return Replay{}, err
	}
	defer stop()
	if _, err := e.waitDrained(ctx, schemas.StreamTickets, schemas.ConsumerDrafts, cfg.ReplayEvents, 0); err != nil {
		return Replay{}, fmt.Errorf("bench.replay history: %w", err)
	}
	s, err := e.js.Stream(ctx, schemas.StreamTickets)
	if err != nil {
		return Replay{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return Replay{}, err
	}
	lastHistory := info.State.LastSeq

	out := Replay{Rate: rate, Events: cfg.ReplayEvents}
	if out.Without, err = tr.live(ctx, cfg, e, c, "a", 0, warm, each, rate); err != nil {
		return Replay{}, err
	}

	// The replay starts with the second live run's warm-up, and runs
	// beside it until done.
	r := &consumers.Replayer{JS: e.js}
	spec := consumers.ReplaySpec{ID: "bench", Task: "support_draft", Shadow: true,
		Subject: schemas.TypeTicketCreated, FromSeq: 1, ToSeq: lastHistory}
	replayCtx, stopReplay := context.WithCancel(ctx)
	defer stopReplay()
	var wg sync.WaitGroup
	var replayErr error
	startIdx := each
	replayStart := tr.now()
	var replayEnd atomic.Int64
	wg.Go(func() {
		if _, err := r.Start(replayCtx, spec, false); err != nil && replayCtx.Err() == nil {
			replayErr = err
			return
		}
		for int(tr.shadow.Load()) < cfg.ReplayEvents {
			if sleep(replayCtx, 10*time.Millisecond) != nil {
				return
			}
		}
		replayEnd.Store(tr.now())
	})
	with, err := tr.live(ctx, cfg, e, c, "b", startIdx, warm, 2*each, rate)
	stopReplay()
	wg.Wait()
	if err = errors.Join(err, replayErr); err != nil {
		return Replay{}, err
	}
	out.With = with
	out.ReplayDone = int(tr.shadow.Load())
	end := replayEnd.Load()
	if end != 0 {
		secs := time.Duration(end - replayStart).Seconds()
		out.ReplaySeconds = &secs
	} else {
		end = math.MaxInt64
	}
	// Live tickets sent while the replay was being drafted.
	var during []float64
	for i := startIdx; i < 2*each; i++ {
		if p := tr.pubAt[i].Load(); p != 0 && p <= end {
			during = append(during, tr.overheadMS(i, i+1)...)
		}
	}
	out.DuringSent = len(during)
	out.DuringP99MS = finite(percentiles(during, 0.99)[0])
	return out, stop()
}
