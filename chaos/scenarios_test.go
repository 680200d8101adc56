package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	openai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// The scenarios, one list for both sizes: size(short, full) picks.
var scenarios = []struct {
	name string
	run  func(t *testing.T)
}{
	{"1_kill_workers", killWorkers},
	{"2_crash_after_publish", crashAfterPublish},
	{"3_duplicate_publish", duplicatePublish},
	{"4_nats_restart", natsRestart},
	{"5_cluster", clusterFailover},
	{"6_model_outage", modelOutage},
	{"7_postgres_outage", postgresOutage},
	{"8a_slow_model_heartbeats", func(t *testing.T) { slowModel(t, true) }},
	{"8b_slow_model_no_heartbeats", func(t *testing.T) { slowModel(t, false) }},
}

func TestChaos(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t)
		})
	}
}

// 1. Three workers; every 2 s a random one is SIGKILLed and started
// again while tickets arrive.
func killWorkers(t *testing.T) {
	e := newEnv(t, options{})
	// A model call takes 20-150 ms, so a kill always finds calls in flight.
	e.fake.SetDefault(func(openai.ChatCompletionRequest) fakeai.Reply {
		return fakeai.Reply{Content: fakeai.DefaultContent, Delay: time.Duration(20+rand.IntN(130)) * time.Millisecond}
	})
	const concurrency = 8
	ws := e.startWorkers(3, concurrency)
	e.startLedger()
	n := size(1000, 10000)
	stop := make(chan struct{})
	var kills atomic.Int64
	wait := every(e.ctx, 2*time.Second, stop, func() {
		randomChild(ws).restart(t)
		kills.Add(1)
	})
	// Paced, so that the kills land while work is in flight.
	e.publish(ids("kill", n), size(100.0, 150.0))
	close(stop)
	wait()
	k := int(kills.Load())
	if k < 2 {
		t.Errorf("only %d kills happened", k)
	}
	e.check("1 kill -9 a worker every 2s", expect{
		extraCalls: k * concurrency, unbilled: k * concurrency,
		why: "a SIGKILL loses the answers of the calls in flight: those tickets are called again, and their first calls have no cost event",
	}, fmt.Sprintf("%d kills of 3 workers × %d", k, concurrency))
}

// 2. A crash between a result's PubAck and the input's ack on 1% of the
// results: the redelivery must neither call the model again nor publish
// a second result. One ticket at a time per worker, so a crash takes no
// other ticket with it.
func crashAfterPublish(t *testing.T) {
	e := newEnv(t, options{})
	ws := e.startWorkers(3, 1, "--fault-exit-after-publish", "0.01")
	e.startLedger()
	n := size(1000, 5000)
	stop := make(chan struct{})
	var crashes atomic.Int64
	wait := every(e.ctx, 100*time.Millisecond, stop, func() {
		for _, w := range ws {
			if done, code := w.exited(); done {
				if code != faultExitCode {
					t.Errorf("%s exited with %d, not the fault's %d", w.name, code, faultExitCode)
				}
				crashes.Add(1)
				w.restart(t)
			}
		}
	})
	e.publish(ids("crash", n), 0)
	e.settle(n, size(2*time.Minute, 10*time.Minute))
	close(stop)
	wait()
	c := int(crashes.Load())
	if c == 0 {
		t.Errorf("no worker crashed: the fault hook did not fire")
	}
	e.check("2 crash after PubAck, before ack (1%)", expect{}, fmt.Sprintf("%d crashes", c))
}

// 3. Every ticket published three times with one event id (the stream
// stores it once), then the same ids again after the duplicate window
// (stored again: the tasks bucket answers them, no call, no result), then
// the same tickets under new event ids (new inputs, new results).
func duplicatePublish(t *testing.T) {
	window := size(2*time.Second, 5*time.Second)
	e := newEnv(t, options{topo: func(tp *consumers.Topology) { tp.DuplicateWindow = window }})
	e.startWorkers(2, 8)
	e.startLedger()
	n := size(200, 2000)
	first := ids("dup", n)
	// Each ticket's three copies back to back, so they fall inside the
	// window however loaded the machine is.
	thrice := make([][2]string, 0, 3*n)
	for _, id := range first {
		thrice = append(thrice, id, id, id)
	}
	if r := e.publish(thrice, 0); r.stored != n || r.duplicate != 2*n {
		t.Errorf("three copies of %d tickets within the window: %d stored, %d duplicates; want %d and %d", n, r.stored, r.duplicate, n, 2*n)
	}
	e.settle(n, size(time.Minute, 5*time.Minute))
	time.Sleep(window + time.Second) // the window has to pass: nothing to poll
	late := e.publish(first, 0)
	if late.stored != n {
		t.Errorf("after the window %d of %d copies were stored; the scenario needs them all", late.stored, n)
	}
	second := make([][2]string, n)
	for i, id := range first {
		second[i] = [2]string{id[0], "dup-new-" + id[1]}
	}
	e.publish(second, 0)
	e.settle(2*n, size(time.Minute, 5*time.Minute))
	tl := e.check("3 same event id ×3, again after the window, then new ids", expect{},
		fmt.Sprintf("window %v; %d late copies answered from the tasks bucket", window, late.stored))
	copies := 0
	for _, c := range tl.inputs {
		if c == 2 {
			copies++
		}
	}
	if copies != n {
		t.Errorf("%d event ids are stored twice, want %d", copies, n)
	}
}

// 4. The NATS server is SIGKILLed and started again twice mid-run, on the
// same port and store: the workers reconnect by themselves, and none of
// them goes silent.
func natsRestart(t *testing.T) {
	e := newEnv(t, options{})
	addrs := make([]string, 3)
	ws := make([]*child, 3)
	for i := range ws {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		ws[i] = e.spawn(fmt.Sprintf("worker-%d", i+1), e.workerArgs(8, "--metrics-addr", addrs[i])...)
	}
	e.startLedger()
	n := size(900, 9000)
	rate := size(60.0, 150.0)
	outage := size(3*time.Second, 10*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { e.publish(ids("restart", n), rate) })
	span := time.Duration(float64(n) / rate * float64(time.Second))
	for i := range 2 {
		time.Sleep(span / 3)
		e.nodes[0].kill(false)
		time.Sleep(outage)
		e.nodes[0].start(t)
		for j, a := range addrs {
			poll.Until(t, time.Minute, fmt.Sprintf("worker-%d ready after restart %d", j+1, i+1), func() bool { return ready(a) })
		}
	}
	wg.Wait()
	e.settle(n, size(2*time.Minute, 10*time.Minute))
	// Each worker keeps a pull request waiting at the server: a worker
	// whose consumer went silent after a reconnect would have none.
	poll.Until(t, time.Minute, "every worker to have a pull request waiting", func() bool {
		info, err := e.consumerInfo(schemas.StreamTickets, schemas.ConsumerDrafts)
		return err == nil && info.NumWaiting >= len(ws)
	})
	for i, a := range addrs {
		if !ready(a) {
			t.Errorf("worker-%d not ready at the end", i+1)
		}
	}
	reconnects := 0
	for _, w := range ws {
		reconnects += countLog(w, "nats disconnected")
	}
	e.check("4 NATS server kill -9, restarted twice", expect{}, fmt.Sprintf("outages of %v; %d disconnects seen by workers", outage, reconnects))
}

// 5. A three-node cluster with R3 streams and consumers: the leader of
// TICKETS or of the drafts consumer is SIGKILLed and started again, over
// and over, then every node in turn is stopped cleanly and started again
// (a rolling restart).
func clusterFailover(t *testing.T) {
	e := newEnv(t, options{nodes: 3})
	e.startWorkers(3, 8)
	e.startLedger()
	n := size(600, 6000)
	rate := size(30.0, 60.0)
	var wg sync.WaitGroup
	wg.Go(func() { e.publish(ids("cluster", n), rate) })
	byName := map[string]*node{}
	for _, nd := range e.nodes {
		byName[nd.name] = nd
	}
	var kills []string
	for i := range size(2, 6) {
		time.Sleep(size(3*time.Second, 8*time.Second))
		leader := e.leader(i%2 == 1)
		nd := byName[leader]
		if nd == nil {
			t.Errorf("no leader to kill (%q)", leader)
			continue
		}
		kills = append(kills, leader)
		t0 := time.Now()
		nd.kill(false)
		time.Sleep(2 * time.Second)
		nd.start(t)
		e.waitHealthy()
		t.Logf("killed leader %s (consumer=%v); healthy again after %v", leader, i%2 == 1, time.Since(t0).Round(time.Millisecond))
	}
	for _, nd := range e.nodes { // rolling restart
		t0 := time.Now()
		nd.kill(true)
		time.Sleep(time.Second)
		nd.start(t)
		e.waitHealthy()
		t.Logf("rolling restart of %s: healthy again after %v", nd.name, time.Since(t0).Round(time.Millisecond))
	}
	wg.Wait()
	e.check("5 R3 cluster: leaders kill -9, rolling restart", expect{
		extraCalls: n / 20, unbilled: n / 20,
		why: "a publish that fails during an election hands the ticket back; when the tasks bucket could not keep " +
			"the outputs either, the ticket is drafted again and the first call's cost event is lost",
	}, fmt.Sprintf("%d leader kills, then a rolling restart of 3 nodes", len(kills)))
}

// leader names the server leading TICKETS, or the drafts consumer.
func (e *env) leader(consumer bool) string {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	if consumer {
		info, err := e.consumerInfo(schemas.StreamTickets, schemas.ConsumerDrafts)
		if err != nil || info.Cluster == nil {
			return ""
		}
		return info.Cluster.Leader
	}
	s, err := e.js.Stream(ctx, schemas.StreamTickets)
	if err != nil {
		return ""
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// waitHealthy waits until TICKETS, AI_COSTS and the drafts consumer have
// a leader and every replica is current.
func (e *env) waitHealthy() {
	e.t.Helper()
	poll.Until(e.t, 2*time.Minute, "the cluster to heal", func() bool {
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		defer cancel()
		for _, name := range []string{schemas.StreamTickets, schemas.StreamCosts, "KV_" + schemas.BucketTasks} {
			s, err := e.js.Stream(ctx, name)
			if err != nil {
				return false
			}
			info, err := s.Info(ctx)
			if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
				return false
			}
			for _, r := range info.Cluster.Replicas {
				if !r.Current || r.Offline {
					return false
				}
			}
		}
		info, err := e.consumerInfo(schemas.StreamTickets, schemas.ConsumerDrafts)
		return err == nil && info.Cluster != nil && info.Cluster.Leader != ""
	})
}

// 6. The provider answers 500 for a while, and no rules fallback is
// configured: the circuit opens, deliveries are handed back with a delay
// instead of being burnt, and everything drains after recovery.
func modelOutage(t *testing.T) {
	const workers, concurrency = 3, 8
	openFor := size(2*time.Second, 10*time.Second)
	e := newEnv(t, options{breakerOpenFor: openFor})
	var down atomic.Bool
	e.fake.SetDefault(func(openai.ChatCompletionRequest) fakeai.Reply {
		if down.Load() {
			return fakeai.Reply{Status: 500}
		}
		return fakeai.Reply{Content: fakeai.DefaultContent}
	})
	var extra []string
	if !full {
		// Production's 5s, 30s, 2m, 5m scaled down with the outage.
		extra = []string{"--fault-nak-backoff", "1s,2s,4s,10s"}
	}
	ws := e.startWorkers(workers, concurrency, extra...)
	e.startLedger()
	var burnt atomic.Int64
	sub, err := e.nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+schemas.StreamTickets+"."+schemas.ConsumerDrafts,
		func(*nats.Msg) { burnt.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	n := size(300, 3000)
	all := ids("outage", n)
	e.publish(all[:n/3], 0)
	e.settle(n/3, time.Minute)
	before := e.fake.Calls()
	deliveredBefore := e.delivered()
	outage := size(12*time.Second, 150*time.Second)
	down.Store(true)
	e.publish(all[n/3:], 0)
	time.Sleep(outage)
	down.Store(false)
	during := e.fake.Calls() - before
	deliveries := e.delivered() - deliveredBefore
	e.settle(n, size(time.Minute, 10*time.Minute))

	// Per worker: the calls in flight when the circuit opened (each with
	// one in-process retry), then one trial call per OpenFor.
	bound := workers * (concurrency*2 + 5 + int(outage/openFor) + 1)
	if during > bound {
		t.Errorf("%d model calls during a %v outage; the circuit should hold them to %d", during, outage, bound)
	}
	opened := 0
	for _, w := range ws {
		opened += countLog(w, `"circuit breaker"`, `"to":"open"`)
	}
	if opened == 0 {
		t.Errorf("no worker logged its circuit opening")
	}
	// Pulling pauses while the circuits are open: the deliveries during
	// the outage are those in flight when they opened, and the probes.
	if max := workers * (concurrency + 2*int(outage/openFor) + 2); deliveries > max {
		t.Errorf("%d deliveries during the outage; with pulling paused there would be at most %d", deliveries, max)
	}
	if b := burnt.Load(); b > 0 {
		t.Errorf("%d tickets reached MaxDeliver during the outage", b)
	}
	e.check("6 model outage (500s), no fallback", expect{
		extraCalls:  during,
		why:         "the calls answered 500 during the outage are real calls, billed at 0",
		failedCodes: []string{},
	}, fmt.Sprintf("outage %v: %d calls, %d deliveries of %d waiting tickets, circuit opened %d times, 0 max-deliveries", outage, during, deliveries, n-n/3, opened))
}

// delivered is how many deliveries the drafts consumer has made.
func (e *env) delivered() int {
	info, err := e.consumerInfo(schemas.StreamTickets, schemas.ConsumerDrafts)
	if err != nil {
		e.t.Fatal(err)
	}
	return int(info.Delivered.Consumer)
}

// 7. Postgres unreachable from the ledger for a while, by cutting the TCP
// proxy between them (the shared Postgres server keeps running).
func postgresOutage(t *testing.T) {
	e := newEnv(t, options{})
	e.startWorkers(2, 8)
	e.startLedger()
	n := size(600, 6000)
	var wg sync.WaitGroup
	wg.Go(func() { e.publish(ids("pg", n), size(40.0, 60.0)) })
	poll.Until(t, time.Minute, "the first ledger rows", func() bool { return e.ledgerRows() > 0 })
	e.pg.Cut()
	outage := size(10*time.Second, 60*time.Second)
	time.Sleep(outage)
	info, err := e.consumerInfo(schemas.StreamCosts, schemas.ConsumerLedger)
	if err != nil {
		t.Fatal(err)
	}
	held := info.NumPending + uint64(info.NumAckPending)
	if held == 0 {
		t.Errorf("the ledger acked every cost event while Postgres was unreachable")
	}
	e.pg.Restore()
	wg.Wait()
	e.check("7 Postgres unreachable", expect{}, fmt.Sprintf("outage %v; %d cost events held back at its end", outage, held))
}

// 8. AckWait shorter than a model call. With in-progress heartbeats no
// ticket is delivered twice; without them (the negative control) every
// AckWait redelivers the ticket mid-call.
func slowModel(t *testing.T, heartbeats bool) {
	const ackWait, delay, workers, concurrency = 2 * time.Second, 5 * time.Second, 2, 8
	e := newEnv(t, options{topo: func(tp *consumers.Topology) { tp.Drafts.AckWait = ackWait }})
	e.fake.SetDefault(func(openai.ChatCompletionRequest) fakeai.Reply {
		return fakeai.Reply{Content: fakeai.DefaultContent, Delay: delay}
	})
	var extra []string
	if !heartbeats {
		extra = []string{"--fault-no-in-progress"}
	}
	e.startWorkers(workers, concurrency, extra...)
	e.startLedger()
	// With heartbeats: more tickets than handlers, so some wait on the
	// server while calls run. Without (the control): fewer, so a handler
	// is free to take a redelivery mid-call.
	n := size(3, 12) * workers * concurrency / 2
	if !heartbeats {
		n = workers * concurrency / 2
	}
	e.publish(ids("slow", n), 0)
	e.settle(n, size(2*time.Minute, 5*time.Minute))
	deliveries := e.delivered()
	notes := fmt.Sprintf("AckWait %v, model call %v: %d deliveries for %d tickets", ackWait, delay, deliveries, n)
	if heartbeats {
		if deliveries != n {
			t.Errorf("%d deliveries for %d tickets: in-progress heartbeats should prevent every redelivery", deliveries, n)
		}
		e.check("8a AckWait < model call, heartbeats on", expect{}, notes)
		return
	}
	if deliveries <= n {
		t.Errorf("%d deliveries for %d tickets without heartbeats: the negative control shows no redelivery", deliveries, n)
	}
	tl := e.check("8b AckWait < model call, heartbeats off (control)", expect{
		extraCalls: n * (e.topo.Drafts.MaxDeliver - 1),
		why:        "without heartbeats each AckWait redelivers the ticket mid-call and the redelivery takes the task over: a call per delivery",
	}, notes)
	if tl.calls <= n {
		t.Errorf("%d model calls for %d tickets: the control should pay for its redeliveries", tl.calls, n)
	}
}
