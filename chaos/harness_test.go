package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/pgtest"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/internal/tcpproxy"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// bin is the ghostwriter binary TestMain builds, and natsBin the
// nats-server (chaos/natsnode); the children run them.
var bin, natsBin string

// faultExitCode is the exit code of `worker --fault-exit-after-publish`.
const faultExitCode = 97

func TestMain(m *testing.M) {
	flag.Parse()
	// The scenarios mostly wait (outages, AckWait, restarts): run them
	// side by side unless -parallel says otherwise.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "8")
	}
	code := func() int {
		dir, err := os.MkdirTemp("", "ghostwriter-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "ghostwriter")
		args := []string{"build", "-o", bin}
		if raceEnabled && os.Getenv("GHOSTWRITER_CHAOS_RACE") == "1" {
			args = append(args, "-race")
		}
		start := time.Now()
		natsBin = filepath.Join(dir, "natsnode")
		for _, b := range [][]string{
			append(args, "github.com/ghostwriter-ai/ghostwriter/cmd/ghostwriter"),
			{"build", "-o", natsBin, "github.com/ghostwriter-ai/ghostwriter/chaos/natsnode"},
		} {
			build := exec.Command("go", b...)
			build.Stdout, build.Stderr = os.Stderr, os.Stderr
			if err := build.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "chaos: go %s: %v\n", strings.Join(b, " "), err)
				return 1
			}
		}
		fmt.Printf("chaos: built the ghostwriter and natsnode binaries in %v (full=%v)\n", time.Since(start).Round(time.Millisecond), full)
		code := m.Run()
		printTable(os.Stdout)
		if code == 0 {
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "chaos: goroutines left behind:", err)
				return 1
			}
		}
		return code
	}()
	os.Exit(code)
}

// size is short in `make test` and long in `make chaos`.
func size[T any](short, long T) T {
	if full {
		return long
	}
	return short
}

// ---------------------------------------------------------------- NATS

// node is one nats-server in a child process (chaos/natsnode) that can
// be SIGKILLed and started again on the same ports with the same store.
type node struct {
	name        string
	port        int
	store       string
	clusterPort int
	routes      string
	log         string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (n *node) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// start runs the server and waits until it accepts clients. A port a
// killed server held may take a moment to free up: it tries again.
func (n *node) start(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return
	}
	var last error
	for range 20 {
		if last = n.spawn(); last == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("nats-server %s: %v", n.name, last)
}

func (n *node) spawn() error {
	f, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(natsBin, "-name", n.name, "-port", fmt.Sprint(n.port), "-store", n.store,
		"-cluster-port", fmt.Sprint(n.clusterPort), "-routes", n.routes)
	cmd.Stderr = f
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
		_, _ = io.Copy(io.Discard, out)
	}()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	select {
	case ok := <-ready:
		if ok {
			n.cmd, n.done = cmd, done
			return nil
		}
	case <-time.After(30 * time.Second):
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("not ready (see %s)", n.log)
}

// kill stops the server with SIGKILL, or with SIGTERM (a clean shutdown)
// when graceful.
func (n *node) kill(graceful bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	sig := syscall.SIGKILL
	if graceful {
		sig = syscall.SIGTERM
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd, n.done = nil, nil
}

// startNodes starts one server, or a cluster of n with routes between
// them. They are killed when the test ends.
func startNodes(t *testing.T, n int) []*node {
	t.Helper()
	nodes := make([]*node, n)
	var routes []string
	clusterPorts := make([]int, n)
	if n > 1 {
		for i := range n {
			clusterPorts[i] = freePort(t)
			routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", clusterPorts[i]))
		}
	}
	logs := t.TempDir()
	for i := range n {
		nodes[i] = &node{name: fmt.Sprintf("chaos-%d", i+1), port: freePort(t), store: t.TempDir(),
			clusterPort: clusterPorts[i], routes: strings.Join(routes, ","),
			log: filepath.Join(logs, fmt.Sprintf("nats-%d.log", i+1))}
	}
	var wg sync.WaitGroup
	for _, nd := range nodes {
		wg.Go(func() { nd.start(t) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.kill(false)
		}
	})
	return nodes
}

func urls(nodes []*node) string {
	u := make([]string, len(nodes))
	for i, n := range nodes {
		u[i] = n.url()
	}
	return strings.Join(u, ",")
}

// ---------------------------------------------------------------- env

// env is one scenario's world: servers, the fake provider, a Postgres
// schema, the children, and a client connection of the test's own.
type env struct {
	t     *testing.T
	ctx   context.Context
	nodes []*node
	nc    *nats.Conn
	js    jetstream.JetStream
	topo  consumers.Topology
	fake  *fakeai.Server
	dsn   string          // the schema, reached directly
	pg    *tcpproxy.Proxy // between the ledger child and Postgres
	cfg   string          // the children's config file
	logs  string          // the children's log folder

	mu       sync.Mutex
	children []*child
	nextID   int
}

// options of one scenario's world.
type options struct {
	nodes int
	topo  func(*consumers.Topology)
	// breaker settings of the fake provider
	breakerFailures int
	breakerOpenFor  time.Duration
	timeout         time.Duration // the whole scenario
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	if o.nodes == 0 {
		o.nodes = 1
	}
	if o.timeout == 0 {
		o.timeout = size(5*time.Minute, 20*time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, logs: t.TempDir()}

	e.dsn = pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	e.pg = tcpproxy.New(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))

	e.fake = fakeai.New()
	e.fake.KeepRequests(false)
	t.Cleanup(e.fake.Close)

	e.nodes = startNodes(t, o.nodes)
	e.nc, err = nats.Connect(urls(e.nodes), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	e.js, err = jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	e.topo = consumers.DefaultTopology()
	e.topo.Replicas = min(o.nodes, 3)
	e.topo.Tasks = []schemas.Task{schemas.TaskSupportDraft} // as the workers' config says
	// A killed worker's tickets come back after AckWait: keep it short
	// so the scenarios end in seconds, not minutes.
	e.topo.Drafts.AckWait = 5 * time.Second
	e.topo.Ledger.AckWait = 10 * time.Second
	if o.topo != nil {
		o.topo(&e.topo)
	}
	poll.Until(t, 60*time.Second, "JetStream to apply the topology", func() bool {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := consumers.Apply(actx, e.js, e.topo)
		return err == nil
	})

	failures, openFor := o.breakerFailures, o.breakerOpenFor
	if failures == 0 {
		failures = 5
	}
	if openFor == 0 {
		openFor = 2 * time.Second
	}
	// No rules fallback: every draft comes from the provider, so model
	// calls are the fake's own count. One task, support_draft: the
	// invariants count one terminal event and about one call a ticket
	// (the consumers tests run both built-in tasks from one worker).
	e.cfg = filepath.Join(t.TempDir(), "chaos.yaml")
	conf := fmt.Sprintf(`tasks:
  - name: support_draft
models:
  providers:
    fake:
      base_url: %s
      timeout: 30s
      breaker: {failures: %d, open_for: %s}
  models:
    gpt-4o-mini: {provider: fake}
  routes:
    - name: default
      chain: [gpt-4o-mini]
  retry: {max_attempts: 2, initial: 100ms, max: 500ms, budget: 5s}
prices:
  gpt-4o-mini:
    input_per_mtok_usd: 0.15
    output_per_mtok_usd: 0.60
`, e.fake.URL(), failures, openFor)
	if err := os.WriteFile(e.cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.killAll)
	t.Cleanup(func() {
		if t.Failed() {
			e.diagnose()
		}
	})
	return e
}

// ---------------------------------------------------------------- children

// child is one ghostwriter process.
type child struct {
	name string
	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	code int // exit code once done; -1 when killed by a signal
	// restarts counts how often it was started again.
	restarts int
}

// childEnv is the environment without anything that would configure
// ghostwriter behind the test's back.
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GHOSTWRITER_") || strings.HasPrefix(k, "NATS_") || strings.HasPrefix(k, "OPENAI_") ||
			strings.HasPrefix(k, "OTEL_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (e *env) spawn(name string, args ...string) *child {
	e.t.Helper()
	c := &child{name: name, args: args, log: filepath.Join(e.logs, name+".log")}
	e.mu.Lock()
	e.children = append(e.children, c)
	e.mu.Unlock()
	c.start(e.t)
	return c
}

func (c *child) start(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Errorf("start %s: %v", c.name, err)
		return
	}
	fmt.Fprintf(f, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, c.args...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Errorf("start %s: %v", c.name, err)
		return
	}
	done := make(chan struct{})
	c.cmd, c.done = cmd, done
	go func() {
		err := cmd.Wait()
		f.Close()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code == 0 {
			code = -1
		}
		c.mu.Lock()
		c.code = code
		c.mu.Unlock()
		close(done)
	}()
}

// kill sends SIGKILL and waits for the process to end.
func (c *child) kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

func (c *child) restart(t testing.TB) {
	c.kill()
	c.mu.Lock()
	c.restarts++
	c.mu.Unlock()
	c.start(t)
}

// exited reports whether the process ended, and its code.
func (c *child) exited() (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return true, c.code
	default:
		return false, 0
	}
}

func (e *env) killAll() {
	e.mu.Lock()
	cs := append([]*child(nil), e.children...)
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(c.kill)
	}
	wg.Wait()
}

// workerArgs are a worker's flags; extra ones are appended.
func (e *env) workerArgs(concurrency int, extra ...string) []string {
	return append([]string{"worker", "--nats-url", urls(e.nodes), "--config", e.cfg,
		"--concurrency", fmt.Sprint(concurrency), "--log-format", "json", "--log-level", "warn",
		"--metrics-addr=", "--shutdown-grace", "5s", "--max-age", "1h"}, extra...)
}

// startWorkers starts n worker processes.
func (e *env) startWorkers(n, concurrency int, extra ...string) []*child {
	e.t.Helper()
	ws := make([]*child, n)
	for i := range n {
		ws[i] = e.spawn(fmt.Sprintf("worker-%d", i+1), e.workerArgs(concurrency, extra...)...)
	}
	return ws
}

// startLedger starts `ghostwriter ledger`, reaching Postgres through the
// proxy.
func (e *env) startLedger() *child {
	e.t.Helper()
	u, err := url.Parse(e.dsn)
	if err != nil {
		e.t.Fatalf("%s must be a postgres:// URL: %v", pgtest.EnvURL, err)
	}
	u.Host = e.pg.Addr()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	return e.spawn("ledger", "ledger", "--nats-url", urls(e.nodes), "--database-url", u.String(), "--config", e.cfg,
		"--log-format", "json", "--log-level", "warn")
}

// diagnose prints what a failed scenario needs: the consumers' state and
// the end of every child's log.
func (e *env) diagnose() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []struct{ stream, name string }{{schemas.StreamTickets, schemas.ConsumerDrafts}, {schemas.StreamCosts, schemas.ConsumerLedger}} {
		if cons, err := e.js.Consumer(ctx, c.stream, c.name); err == nil {
			if info, err := cons.Info(ctx); err == nil {
				e.t.Logf("%s: pending=%d ack_pending=%d redelivered=%d waiting=%d delivered=%d ack_floor=%d",
					c.name, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting, info.Delivered.Stream, info.AckFloor.Stream)
			}
		}
	}
	e.mu.Lock()
	cs := append([]*child(nil), e.children...)
	e.mu.Unlock()
	keep := ""
	if dir := os.Getenv("GHOSTWRITER_ARTIFACTS"); dir != "" {
		keep = filepath.Join(dir, "chaos", strings.NewReplacer("/", "_", " ", "_").Replace(e.t.Name()))
		if err := os.MkdirAll(keep, 0o755); err != nil {
			e.t.Logf("keeping the logs: %v", err)
			keep = ""
		}
	}
	for _, c := range cs {
		e.t.Logf("--- %s (%s), last lines:\n%s", c.name, c.log, tail(c.log, 15))
		if keep != "" {
			if raw, err := os.ReadFile(c.log); err == nil {
				_ = os.WriteFile(filepath.Join(keep, c.name+".log"), raw, 0o644)
			}
		}
	}
	if keep != "" {
		e.t.Logf("the children's whole logs are kept in %s", keep)
	}
}

func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// countLog counts the lines of a child's log that contain every part.
func countLog(c *child, parts ...string) int {
	f, err := os.Open(c.log)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				continue next
			}
		}
		n++
	}
	return n
}

// ---------------------------------------------------------------- publishing

const body = "Hello, I was charged twice for my subscription this month (order 4471). Could you refund the second charge? Thanks, Sam"

// ticket builds a ticket.created event; the same (ticket, event id)
// always gives the same bytes.
func ticket(ticketID, eventID string) []byte {
	env, err := schemas.New(schemas.TypeTicketCreated, "chaos", eventID, schemas.TicketCreated{
		TicketID: ticketID, TenantID: "acme", Body: body, Subject: "Double charge", Channel: "email", Language: "en",
	})
	if err != nil {
		panic(err)
	}
	raw, err := schemas.Encode(env)
	if err != nil {
		panic(err)
	}
	return raw
}

// publishResult counts what the stream said of a publish.
type publishResult struct {
	stored, duplicate int
}

// publish publishes the tickets (ticket id, event id) with their event id
// as Nats-Msg-Id at up to rate per second (0: as fast as acks come),
// retrying each until the stream acknowledges it, across server restarts
// and leader elections.
func (e *env) publish(ids [][2]string, rate float64) publishResult {
	e.t.Helper()
	var res publishResult
	start := time.Now()
	const window = 64
	for i := 0; i < len(ids); i += window {
		batch := ids[i:min(i+window, len(ids))]
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		futures := make([]jetstream.PubAckFuture, len(batch))
		for j, id := range batch {
			m := nats.NewMsg(schemas.TypeTicketCreated)
			m.Data = ticket(id[0], id[1])
			f, err := e.js.PublishMsgAsync(m, jetstream.WithMsgID(id[1]))
			if err == nil {
				futures[j] = f
			}
		}
		for j, f := range futures {
			var ack *jetstream.PubAck
			if f != nil {
				select {
				case ack = <-f.Ok():
				case <-f.Err():
				case <-time.After(5 * time.Second):
				}
			}
			if ack == nil {
				ack = e.publishSync(batch[j])
			}
			if ack.Duplicate {
				res.duplicate++
			} else {
				res.stored++
			}
		}
	}
	return res
}

func (e *env) publishSync(id [2]string) *jetstream.PubAck {
	e.t.Helper()
	wait := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		ack, err := e.js.Publish(ctx, schemas.TypeTicketCreated, ticket(id[0], id[1]), jetstream.WithMsgID(id[1]))
		cancel()
		if err == nil {
			return ack
		}
		if e.ctx.Err() != nil {
			e.t.Errorf("publish %s: %v", id[1], err)
			return &jetstream.PubAck{}
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

// ids makes n (ticket id, event id) pairs.
func ids(prefix string, n int) [][2]string {
	out := make([][2]string, n)
	for i := range n {
		out[i] = [2]string{fmt.Sprintf("%s-t%d", prefix, i), fmt.Sprintf("%s-e%d", prefix, i)}
	}
	return out
}

// ---------------------------------------------------------------- reading

// tally is what the streams and the database hold at the end.
type tally struct {
	inputs     map[string]int // event id → copies of ticket.created
	terminal   map[string]int // source event id/task/prompt version → results
	bySource   map[string]int // source event id → distinct (task, prompt) keys
	failed     map[string]int // draft_failed by error code
	costEvents int
	costDups   int // ai.cost events whose call id repeats
	rows       int64
	calls      int
}

// readStream calls f with every message of stream on subjects.
func (e *env) readStream(stream string, subjects []string, f func(subject string, data []byte)) {
	e.t.Helper()
	var lastErr error
	for attempt := range 10 { // a leader election may interrupt a read
		if attempt > 0 {
			time.Sleep(time.Second)
		}
		ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
		var msgs [][2]any
		lastErr = func() error {
			cons, err := e.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
			if err != nil {
				return err
			}
			s, err := e.js.Stream(ctx, stream)
			if err != nil {
				return err
			}
			info, err := s.Info(ctx)
			if err != nil {
				return err
			}
			if info.State.Msgs == 0 {
				return nil
			}
			last := info.State.LastSeq
			for {
				batch, err := cons.Fetch(2000, jetstream.FetchMaxWait(2*time.Second))
				if err != nil {
					return err
				}
				n := 0
				for m := range batch.Messages() {
					n++
					meta, err := m.Metadata()
					if err != nil {
						return err
					}
					msgs = append(msgs, [2]any{m.Subject(), m.Data()})
					if meta.Sequence.Stream >= last || meta.NumPending == 0 {
						return nil
					}
				}
				if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
					return err
				}
				if n == 0 {
					return nil // nothing more on these subjects
				}
			}
		}()
		cancel()
		if lastErr == nil {
			for _, m := range msgs {
				f(m[0].(string), m[1].([]byte))
			}
			return
		}
	}
	e.t.Fatalf("read %s: %v", stream, lastErr)
}

func (e *env) read() tally {
	e.t.Helper()
	tl := tally{inputs: map[string]int{}, terminal: map[string]int{}, bySource: map[string]int{}, failed: map[string]int{}}
	keys := map[string]bool{}
	e.readStream(schemas.StreamTickets, []string{schemas.TypeTicketCreated, schemas.TypeDraftReady, schemas.TypeDraftFailed},
		func(subject string, raw []byte) {
			var probe struct {
				ID   string `json:"id"`
				Data struct {
					SourceEventID string `json:"source_event_id"`
					Task          string `json:"task"`
					PromptVersion string `json:"prompt_version"`
					ErrorCode     string `json:"error_code"`
				} `json:"data"`
			}
			if err := json.Unmarshal(raw, &probe); err != nil {
				e.t.Errorf("%s: %v", subject, err)
				return
			}
			if subject == schemas.TypeTicketCreated {
				tl.inputs[probe.ID]++
				return
			}
			k := probe.Data.SourceEventID + "/" + probe.Data.Task + "/" + probe.Data.PromptVersion
			tl.terminal[k]++
			if !keys[k] {
				keys[k] = true
				tl.bySource[probe.Data.SourceEventID]++
			}
			if subject == schemas.TypeDraftFailed {
				tl.failed[probe.Data.ErrorCode]++
			}
		})
	callIDs := map[string]bool{}
	e.readStream(schemas.StreamCosts, []string{schemas.TypeCost}, func(_ string, raw []byte) {
		var probe struct {
			Data struct {
				CallID string `json:"call_id"`
			} `json:"data"`
		}
		_ = json.Unmarshal(raw, &probe)
		tl.costEvents++
		if callIDs[probe.Data.CallID] {
			tl.costDups++
		}
		callIDs[probe.Data.CallID] = true
	})
	tl.rows = e.ledgerRows()
	tl.calls = e.fake.Calls()
	return tl
}

func (e *env) ledgerRows() int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM calls`).Scan(&n); err != nil {
		return -1 // not migrated yet
	}
	return n
}

func (e *env) consumerInfo(stream, name string) (*jetstream.ConsumerInfo, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	c, err := e.js.Consumer(ctx, stream, name)
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

// terminalCount is the number of results in TICKETS, cheaply.
func (e *env) subjectCount(stream string, subjects ...string) int {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return -1
	}
	n := 0
	for _, sub := range subjects {
		n += int(info.State.Subjects[sub])
	}
	return n
}

// settle waits until every input has a result, both consumers have
// nothing pending or unacked, and the ledger holds every cost event.
func (e *env) settle(inputs int, within time.Duration) bool {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && e.ctx.Err() == nil {
		if e.settled(inputs) {
			return true
		}
		time.Sleep(500 * time.Millisecond)
	}
	results := e.subjectCount(schemas.StreamTickets, schemas.TypeDraftReady, schemas.TypeDraftFailed)
	costs := e.subjectCount(schemas.StreamCosts, schemas.TypeCost)
	e.t.Errorf("not settled after %v: %d results for %d inputs, %d ai.cost events, %d ledger rows, %d model calls",
		within, results, inputs, costs, e.ledgerRows(), e.fake.Calls())
	return false
}

func (e *env) settled(inputs int) bool {
	if n := e.subjectCount(schemas.StreamTickets, schemas.TypeDraftReady, schemas.TypeDraftFailed); n < inputs {
		return false
	}
	for _, c := range []struct{ stream, name string }{{schemas.StreamTickets, schemas.ConsumerDrafts}, {schemas.StreamCosts, schemas.ConsumerLedger}} {
		info, err := e.consumerInfo(c.stream, c.name)
		if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
			return false
		}
	}
	costs := e.subjectCount(schemas.StreamCosts, schemas.TypeCost)
	return costs >= 0 && e.ledgerRows() == int64(costs)
}

// ---------------------------------------------------------------- invariants

// expect is what a scenario allows beyond the strict invariants, with
// the reason: a scenario that costs more by design says why.
type expect struct {
	// extraCalls is how many model calls beyond one per input are allowed.
	extraCalls int
	// unbilled is how many calls that reached the provider may have no
	// cost event: calls in flight in a process that was SIGKILLed.
	unbilled int
	why      string
	// failedCodes, when not nil, are the only draft_failed codes allowed
	// (draft_failed always counts as a terminal event).
	failedCodes []string
}

// row is one scenario's figures.
type row struct {
	scenario                                        string
	in, terminal, dups, missing, calls, costs, rows int
	perTicket                                       float64
	notes                                           string
	pass                                            bool
}

var (
	tableMu sync.Mutex
	table   []row
)

func printTable(w io.Writer) {
	tableMu.Lock()
	defer tableMu.Unlock()
	if len(table) == 0 {
		return
	}
	sort.Slice(table, func(i, j int) bool { return table[i].scenario < table[j].scenario })
	fmt.Fprintf(w, "\nchaos suite (full=%v)\n", full)
	fmt.Fprintln(w, header)
	for _, r := range table {
		fmt.Fprintln(w, r.String())
	}
}

const header = "| scenario | tickets in | terminal events | duplicates | missing | model calls | ai.cost events | ledger rows | calls/ticket | result | notes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"

func (r row) String() string {
	res := "PASS"
	if !r.pass {
		res = "FAIL"
	}
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %d | %d | %.3f | %s | %s |",
		r.scenario, r.in, r.terminal, r.dups, r.missing, r.calls, r.costs, r.rows, r.perTicket, res, r.notes)
}

// check waits for the scenario to settle, then checks the invariants:
// (a) every input has exactly one terminal event per task and prompt
// version, (b) no duplicate terminal events, (c) ledger rows == ai.cost
// events == model calls that reached the provider, (d) the drafts
// consumer ends with nothing pending or unacked, (e) model calls per
// ticket within the stated bound. It records and prints the row.
func (e *env) check(name string, x expect, notes string) tally {
	e.t.Helper()
	tl := e.read()
	inputs := len(tl.inputs)
	settleWithin := size(2*time.Minute, 10*time.Minute)
	e.settle(inputs, settleWithin)
	tl = e.read()
	inputs = len(tl.inputs)

	r := row{scenario: name, in: inputs, calls: tl.calls, costs: tl.costEvents, rows: int(tl.rows), notes: notes}
	var twice []string // a few of the keys with more than one terminal event, for the failure
	for key, n := range tl.terminal {
		r.terminal += n
		r.dups += n - 1
		if n > 1 && len(twice) < 5 {
			twice = append(twice, key)
		}
	}
	var problems []string
	for id := range tl.inputs {
		switch tl.bySource[id] {
		case 0:
			r.missing++
		case 1:
		default:
			problems = append(problems, fmt.Sprintf("(a) event %s has results under %d task/prompt keys", id, tl.bySource[id]))
		}
	}
	for src := range tl.bySource {
		if tl.inputs[src] == 0 {
			problems = append(problems, fmt.Sprintf("(a) a result answers %s, which is not an input", src))
		}
	}
	if r.missing > 0 {
		problems = append(problems, fmt.Sprintf("(a) %d inputs have no terminal event", r.missing))
	}
	if r.dups > 0 {
		problems = append(problems, fmt.Sprintf("(b) %d duplicate terminal events, e.g. %s", r.dups, strings.Join(twice, ", ")))
	}
	if tl.costDups > 0 {
		problems = append(problems, fmt.Sprintf("(c) %d ai.cost events repeat a call id", tl.costDups))
	}
	if int(tl.rows) != tl.costEvents {
		problems = append(problems, fmt.Sprintf("(c) ledger rows %d != ai.cost events %d", tl.rows, tl.costEvents))
	}
	if unbilled := tl.calls - tl.costEvents; unbilled < 0 || unbilled > x.unbilled {
		problems = append(problems, fmt.Sprintf("(c) model calls %d vs ai.cost events %d: %d unbilled, allowed 0..%d",
			tl.calls, tl.costEvents, unbilled, x.unbilled))
	}
	if info, err := e.consumerInfo(schemas.StreamTickets, schemas.ConsumerDrafts); err != nil {
		problems = append(problems, fmt.Sprintf("(d) drafts consumer: %v", err))
	} else if info.NumPending != 0 || info.NumAckPending != 0 {
		problems = append(problems, fmt.Sprintf("(d) drafts consumer ends with %d pending, %d awaiting ack", info.NumPending, info.NumAckPending))
	}
	if inputs > 0 {
		r.perTicket = float64(tl.calls) / float64(inputs)
	}
	if tl.calls > inputs+x.extraCalls {
		problems = append(problems, fmt.Sprintf("(e) %d model calls for %d inputs (%.3f per ticket); allowed %d extra (%s)",
			tl.calls, inputs, r.perTicket, x.extraCalls, x.why))
	}
	if full && x.extraCalls == 0 && r.perTicket > 1.05 {
		problems = append(problems, fmt.Sprintf("(e) %.3f model calls per ticket, above 1.05", r.perTicket))
	}
	if x.failedCodes != nil {
		for code, n := range tl.failed {
			ok := false
			for _, c := range x.failedCodes {
				ok = ok || c == code
			}
			if !ok {
				problems = append(problems, fmt.Sprintf("%d draft_failed with code %s", n, code))
			}
		}
	}
	if len(tl.failed) > 0 {
		r.notes += fmt.Sprintf("; draft_failed %v", tl.failed)
	}
	for _, p := range problems {
		e.t.Error(p)
	}
	r.pass = len(problems) == 0 && !e.t.Failed()
	tableMu.Lock()
	table = append(table, r)
	tableMu.Unlock()
	e.t.Logf("\n%s\n%s", header, r)
	return tl
}

// ---------------------------------------------------------------- helpers

// every runs f every d until stop is closed or ctx ends; it returns a
// wait for the loop to end.
func every(ctx context.Context, d time.Duration, stop <-chan struct{}, f func()) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-t.C:
				f()
			}
		}
	})
	return wg.Wait
}

// randomChild picks one.
func randomChild(cs []*child) *child { return cs[rand.IntN(len(cs))] }

// ready polls a worker's /readyz.
func ready(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
