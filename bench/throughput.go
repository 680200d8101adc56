package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Throughput is one drain of a pre-loaded backlog: the ceiling's bare
// loop or the worker's full path.
type Throughput struct {
	Scenario    string `json:"scenario"`
	N           int    `json:"n"`
	Concurrency int    `json:"concurrency"`
	// Measured tickets were acked inside the measured span, which starts
	// once the warm-up share of N is acked.
	Measured int     `json:"measured"`
	Seconds  float64 `json:"seconds"`
	PerS     float64 `json:"per_s"`
	// CPUMicros is process CPU (user + system: worker, embedded server
	// and bench together) per ticket in the measured span.
	CPUMicros float64 `json:"cpu_us_per_msg"`
	// RSSMB is the process's peak resident set while the backlog drained.
	RSSMB float64 `json:"rss_mb"`
	// Ready and Failed count the results stored (pipeline scenarios).
	Ready  uint64 `json:"draft_ready"`
	Failed uint64 `json:"draft_failed"`
}

// Scenario names.
const (
	ScenarioCeiling = "ceiling"
	ScenarioInstant = "instant"
	ScenarioHTTP    = "http"
	ScenarioLatency = "latency"
	ScenarioLive    = "live"
	ScenarioReplay  = "replay"
	// ScenarioBacklog runs only when named: it stores BacklogN tickets.
	ScenarioBacklog = "backlog"
)

// ceilingConsumer is the bare loop's durable consumer: the same stream,
// filter and delivery settings as ghostwriter-drafts.
const ceilingConsumer = "bench-ceiling"

// ceilingSubject carries the bare loop's results; TICKETS stores it, as
// it stores the drafts.
const ceilingSubject = "ticket.bench_result"

// runCeiling drains n tickets with the bare loop: pull consume
// ticket.created, decode, publish one small result with a Nats-Msg-Id,
// ack after its PubAck, with the worker's concurrency. It is what the
// broker allows on this machine, and the reference of the pipeline's
// figures.
func runCeiling(ctx context.Context, cfg Config, c corpus, n int, onStart func()) (Throughput, error) {
	topo := consumers.DefaultTopology()
	topo.Drafts.MaxAckPending = max(topo.Drafts.MaxAckPending, cfg.Concurrency)
	e, err := newEnv(ctx, topo)
	if err != nil {
		return Throughput{}, err
	}
	defer e.close()
	s, err := e.js.Stream(ctx, schemas.StreamTickets)
	if err != nil {
		return Throughput{}, err
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: ceilingConsumer, FilterSubject: schemas.TypeTicketCreated,
		DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: topo.Drafts.AckWait, MaxDeliver: topo.Drafts.MaxDeliver, MaxAckPending: topo.Drafts.MaxAckPending,
	}); err != nil {
		return Throughput{}, fmt.Errorf("bench.ceiling: %w", err)
	}
	if err := e.preload(ctx, c, "c", n, nil); err != nil {
		return Throughput{}, err
	}

	nc, js, err := e.connect("ghostwriter-bench-ceiling", nil)
	if err != nil {
		return Throughput{}, err
	}
	defer nc.Close()
	cons, err := js.Consumer(ctx, schemas.StreamTickets, ceilingConsumer)
	if err != nil {
		return Throughput{}, fmt.Errorf("bench.ceiling: %w", err)
	}
	rss := startPeakRSS()
	if onStart != nil {
		onStart()
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var loopErr error
	wg.Go(func() { loopErr = bareLoop(loopCtx, js, cons, cfg.Concurrency) })
	d, err := e.waitDrained(ctx, schemas.StreamTickets, ceilingConsumer, n, warmN(cfg, n))
	stopLoop()
	wg.Wait()
	if err = errors.Join(err, loopErr); err != nil {
		return Throughput{}, err
	}
	mb, _ := rss.MB()
	return Throughput{Scenario: ScenarioCeiling, N: n, Concurrency: cfg.Concurrency, Measured: d.measured,
		Seconds: d.took.Seconds(), PerS: d.perSecond(), CPUMicros: d.cpuMicrosEach(), RSSMB: mb}, nil
}

// bareLoop is the ceiling's consumer: what any JetStream worker must do
// at the least, with the same shape as consumers.Loop (one iterator,
// bounded concurrency, a goroutine per message).
func bareLoop(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, concurrency int) error {
	iter, err := cons.Messages(jetstream.PullMaxMessages(concurrency))
	if err != nil {
		return fmt.Errorf("bench.ceiling: %w", err)
	}
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	var failed error
	var once sync.Once
	for {
		sem <- struct{}{}
		msg, err := iter.Next()
		if err != nil {
			<-sem
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return failed
			}
			continue // a missed heartbeat; the iterator recovers
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := bareHandle(ctx, js, msg); err != nil && ctx.Err() == nil {
				once.Do(func() { failed = err })
			}
		})
	}
}

func bareHandle(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg) error {
	var in struct {
		ID   string `json:"id"`
		Data struct {
			TicketID string `json:"ticket_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msg.Data(), &in); err != nil {
		return fmt.Errorf("bench.ceiling: decode: %w", err)
	}
	out := nats.NewMsg(ceilingSubject)
	out.Data = strconv.AppendQuote(append(strconv.AppendQuote([]byte(`{"ticket_id":`), in.Data.TicketID), `,"source_event_id":`...), in.ID)
	out.Data = append(out.Data, '}')
	f, err := js.PublishMsgAsync(out, jetstream.WithMsgID("r-"+in.ID))
	if err != nil {
		return fmt.Errorf("bench.ceiling: publish: %w", err)
	}
	select {
	case <-f.Ok():
	case err := <-f.Err():
		return fmt.Errorf("bench.ceiling: publish: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	return msg.Ack()
}

// warmN is how many tickets of n a throughput scenario acks before its
// measured span starts.
func warmN(cfg Config, n int) int {
	return int(cfg.WarmupShare * float64(n))
}

// runPipeline drains n tickets through the real worker with pipe.
func runPipeline(ctx context.Context, cfg Config, c corpus, name string, n int, pipe *pipeline.Pipeline, onStart func()) (Throughput, error) {
	topo := consumers.DefaultTopology()
	topo.Drafts.MaxAckPending = max(topo.Drafts.MaxAckPending, cfg.Concurrency)
	e, err := newEnv(ctx, topo)
	if err != nil {
		return Throughput{}, err
	}
	defer e.close()
	if err := e.preload(ctx, c, "t", n, nil); err != nil {
		return Throughput{}, err
	}
	rss := startPeakRSS()
	if onStart != nil {
		onStart()
	}
	stop, err := e.startWorker(ctx, workerSpec{pipe: pipe, concurrency: cfg.Concurrency})
	if err != nil {
		return Throughput{}, err
	}
	d, err := e.waitDrained(ctx, schemas.StreamTickets, schemas.ConsumerDrafts, n, warmN(cfg, n))
	if err = errors.Join(err, stop()); err != nil {
		return Throughput{}, err
	}
	mb, _ := rss.MB()
	ready, failed, err := e.results(ctx)
	if err != nil {
		return Throughput{}, err
	}
	return Throughput{Scenario: name, N: n, Concurrency: cfg.Concurrency, Measured: d.measured,
		Seconds: d.took.Seconds(), PerS: d.perSecond(), CPUMicros: d.cpuMicrosEach(), RSSMB: mb,
		Ready: ready, Failed: failed}, nil
}

// runInstant is scenario 2: the worker with the rules model.
func runInstant(ctx context.Context, cfg Config, c corpus, n int, onStart func()) (Throughput, error) {
	pipe, err := rulesPipeline(nil)
	if err != nil {
		return Throughput{}, err
	}
	return runPipeline(ctx, cfg, c, ScenarioInstant, n, pipe, onStart)
}

// runHTTP is scenario 3: the worker through go-openai against the
// in-process fake OpenAI server, answering at once.
func runHTTP(ctx context.Context, cfg Config, c corpus, n int, onStart func()) (Throughput, error) {
	fake := fakeai.New()
	defer fake.Close()
	fake.KeepRequests(false)
	pipe, err := httpPipeline(fake.URL())
	if err != nil {
		return Throughput{}, err
	}
	th, err := runPipeline(ctx, cfg, c, ScenarioHTTP, n, pipe, onStart)
	if err == nil && fake.Calls() < th.N {
		err = fmt.Errorf("bench.http: %d tickets but only %d model calls reached the fake server", th.N, fake.Calls())
	}
	return th, err
}

// LatencyBound is one run of scenario 4: a model that takes L per call,
// with C tickets at a time.
type LatencyBound struct {
	C   int     `json:"c"`
	LMS float64 `json:"l_ms"`
	// PerS is the drafts acked per second in the measured window; Share
	// is PerS over C/L, the most C workers could do.
	PerS  float64 `json:"per_s"`
	Share float64 `json:"share"`
	// RSSMB is the peak resident set of the process (worker, embedded
	// server holding the backlog, bench) while this run went; RSSOwn says
	// whether that is this run's own peak (VmHWM reset at its start) or
	// the process's lifetime maxrss.
	RSSMB     float64 `json:"rss_mb"`
	RSSOwn    bool    `json:"rss_own_peak"`
	CPUMicros float64 `json:"cpu_us_per_msg"`
	Preloaded int     `json:"preloaded"`
	Seconds   float64 `json:"seconds"`
	// Mem is where the process's memory was at the end of the window,
	// with C tickets in flight.
	Mem MemSplit `json:"mem"`
}

// runLatencyBound is scenario 4 for one C: enough tickets pre-loaded that
// the backlog outlasts the window, the worker started with concurrency C
// (and the consumer's MaxAckPending raised to fit), a warm-up, then the
// acks counted over the window.
func runLatencyBound(ctx context.Context, cfg Config, c corpus, conc int) (LatencyBound, error) {
	l := cfg.ModelLatency
	ideal := float64(conc) / l.Seconds()
	n := int(ideal*(cfg.Warmup+cfg.LatencyWindow).Seconds()*1.25) + conc
	topo := consumers.DefaultTopology()
	topo.Drafts.MaxAckPending = max(topo.Drafts.MaxAckPending, conc)
	e, err := newEnv(ctx, topo)
	if err != nil {
		return LatencyBound{}, err
	}
	defer e.close()
	if err := e.preload(ctx, c, "l", n, nil); err != nil {
		return LatencyBound{}, err
	}
	rss := startPeakRSS()
	stop, err := e.startWorker(ctx, workerSpec{pipe: slowPipeline(l), concurrency: conc})
	if err != nil {
		return LatencyBound{}, err
	}
	defer stop()
	done0, err := warmUp(ctx, e, cfg.Warmup, 2*conc, n)
	if err != nil {
		return LatencyBound{}, err
	}
	t0, cpu0 := time.Now(), cpuTime()
	if err := sleep(ctx, cfg.LatencyWindow); err != nil {
		return LatencyBound{}, err
	}
	done1, err := e.acked(ctx, schemas.StreamTickets, schemas.ConsumerDrafts, n)
	if err != nil {
		return LatencyBound{}, err
	}
	took, cpu := time.Since(t0), cpuTime()-cpu0
	mb, own := rss.MB()
	mem := memSplit()
	cfg.heapProfile("latency-c%d", conc)
	if err := stop(); err != nil {
		return LatencyBound{}, err
	}
	if done1 >= n {
		return LatencyBound{}, fmt.Errorf("bench.latency c=%d: the backlog of %d ran out inside the window", conc, n)
	}
	perS := float64(done1-done0) / took.Seconds()
	return LatencyBound{C: conc, LMS: float64(l) / float64(time.Millisecond), PerS: perS, Share: perS / ideal,
		RSSMB: mb, RSSOwn: own, CPUMicros: float64(cpu.Microseconds()) / float64(max(done1-done0, 1)),
		Preloaded: n, Seconds: took.Seconds(), Mem: mem}, nil
}

// warmUp waits for at least d and for at least waves acks of n pre-loaded
// tickets: the first waves of C tickets all start together and all need
// the CPU together after L, which is no steady state. A worker that
// cannot ack that many within stallAfter is measured as it is. It returns
// the acks so far.
func warmUp(ctx context.Context, e *env, d time.Duration, waves, n int) (int, error) {
	start := time.Now()
	for {
		done, err := e.acked(ctx, schemas.StreamTickets, schemas.ConsumerDrafts, n)
		if err != nil {
			return 0, err
		}
		if since := time.Since(start); since >= d && (done >= waves || since > stallAfter) {
			return done, nil
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return 0, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backlog is the opt-in memory scenario: the worker drains a large
// pre-loaded backlog and the process's memory is sampled as it goes. The
// worker's part is flat when it pulls in bounded batches and holds nothing
// of the backlog but what it works on; the embedded server's grows with
// what it stores (the tasks bucket's keys, the duplicate window's ids).
type Backlog struct {
	N int `json:"n"`
	// RSS figures are of the whole process, the embedded server that
	// stores the backlog included: LoadedMB when the backlog is stored and
	// before the worker starts; FirstMB, MaxMB and LastMB over samples
	// taken every half second while the worker drains it, after the
	// warm-up.
	LoadedMB float64 `json:"rss_loaded_mb"`
	FirstMB  float64 `json:"rss_first_mb"`
	MaxMB    float64 `json:"rss_max_mb"`
	LastMB   float64 `json:"rss_last_mb"`
	Samples  int     `json:"samples"`
	// Series has a sample about every ten seconds, with the live heap
	// split between the embedded server and the rest (worker, client,
	// bench), measured quiesced (see MemSample).
	Series  []MemSample `json:"series"`
	Drained int         `json:"drained"`
	Seconds float64     `json:"seconds"`
	// PausedS is the part of Seconds the consumer was paused for the
	// samples; PerS is the drain rate over the rest.
	PausedS float64 `json:"paused_s"`
	PerS    float64 `json:"per_s"`
	// RanOut says the worker drained the whole backlog before the
	// measuring time was up: the later samples are of an idle worker.
	RanOut bool `json:"ran_out"`
}

// MemSample is the process's memory at one moment of a drain. The heap
// figures are what stays live between tickets: the bench pauses the
// drafts consumer until no delivery is left unacked, collects garbage
// twice, splits the live heap, and resumes. Taken while tickets run, the
// split counts tickets in flight and, worse, garbage: objects the worker
// allocates during a mark phase survive that cycle, and a mark phase grew
// to a second as the server's heap grew, so the worker's share seemed to
// grow from 33 to 127 MB over 100 s while what it keeps stayed at 2 MB.
type MemSample struct {
	At           float64 `json:"at_s"`
	Acked        int     `json:"acked"`
	RSSMB        float64 `json:"rss_mb"`
	BrokerHeapMB float64 `json:"broker_heap_mb"`
	WorkerHeapMB float64 `json:"worker_heap_mb"`
	// QuiesceMS is how long the paused consumer took to have nothing in
	// flight.
	QuiesceMS float64 `json:"quiesce_ms"`
}

// runBacklog pre-loads n tickets, then lets the worker (rules model, the
// configured concurrency) drain them for LiveFor after Warmup, reading the
// RSS every half second and, about every ten seconds, what the heap keeps
// with the worker quiesced (MemSample).
func runBacklog(ctx context.Context, cfg Config, c corpus, n int) (Backlog, error) {
	e, err := newEnv(ctx, liveTopology(cfg))
	if err != nil {
		return Backlog{}, err
	}
	defer e.close()
	if err := e.preload(ctx, c, "k", n, nil); err != nil {
		return Backlog{}, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	out := Backlog{N: n, MaxMB: math.Inf(-1)}
	out.LoadedMB = rssMB()
	pipe, err := rulesPipeline(nil)
	if err != nil {
		return Backlog{}, err
	}
	stop, err := e.startWorker(ctx, workerSpec{pipe: pipe, concurrency: cfg.Concurrency})
	if err != nil {
		return Backlog{}, err
	}
	defer stop()
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return Backlog{}, err
	}
	done0, err := e.acked(ctx, schemas.StreamTickets, schemas.ConsumerDrafts, n)
	if err != nil {
		return Backlog{}, err
	}
	t0 := time.Now()
	var paused time.Duration
	sample := func() error {
		at, rss := time.Since(t0), rssMB()
		p0 := time.Now()
		resume, quiet, err := e.quiesce(ctx, schemas.StreamTickets, schemas.ConsumerDrafts)
		if err != nil {
			return err
		}
		mem := memSplit()
		cfg.heapProfile("backlog-%03ds", int(at.Round(time.Second).Seconds()))
		acked, err := e.acked(ctx, schemas.StreamTickets, schemas.ConsumerDrafts, n)
		if err = errors.Join(err, resume()); err != nil {
			return err
		}
		paused += time.Since(p0)
		out.Series = append(out.Series, MemSample{At: at.Seconds(), Acked: acked - done0,
			RSSMB: rss, BrokerHeapMB: mem.ServerHeapMB, WorkerHeapMB: mem.RestHeapMB, QuiesceMS: ms(quiet)})
		return nil
	}
	for tick := 0; time.Since(t0) < cfg.LiveFor; tick++ {
		mb := rssMB()
		if out.Samples == 0 {
			out.FirstMB = mb
		}
		out.MaxMB, out.LastMB = max(out.MaxMB, mb), mb
		out.Samples++
		if tick%20 == 0 {
			if err := sample(); err != nil {
				return Backlog{}, err
			}
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return Backlog{}, err
		}
	}
	if err := sample(); err != nil {
		return Backlog{}, err
	}
	done1 := done0 + out.Series[len(out.Series)-1].Acked
	out.Seconds = time.Since(t0).Seconds()
	out.Drained = done1 - done0
	out.PausedS = paused.Seconds()
	out.PerS = float64(out.Drained) / max(out.Seconds-out.PausedS, 1e-9)
	out.RanOut = done1 >= n
	return out, stop()
}

// rssMB is the process's resident set now, in MiB.
func rssMB() float64 {
	kb, _ := procStatusKB("VmRSS")
	return float64(kb) / 1024
}
