package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lmittmann/tint"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/metrics"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// logConfig chooses the log handler: tint on a terminal, JSON elsewhere.
type logConfig struct {
	format string
	level  string
}

func (c *command) logFlags() *logConfig {
	lc := &logConfig{}
	c.flags.StringVar(&lc.format, "log-format", "auto", "log format: auto (text on a terminal, else json), text or json")
	c.flags.StringVar(&lc.level, "log-level", "info", "log level: debug, info, warn or error")
	return lc
}

func (lc *logConfig) logger(env *environ) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.level)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	terminal := false
	if f, ok := env.stderr.(*os.File); ok {
		st, err := f.Stat()
		terminal = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	text := lc.format == "text"
	switch lc.format {
	case "auto":
		text = terminal
	case "text", "json":
	default:
		return nil, usagef("--log-format %q: want auto, text or json", lc.format)
	}
	if text {
		return slog.New(tint.NewHandler(env.stderr, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: !terminal})), nil
	}
	return slog.New(slog.NewJSONHandler(env.stderr, &slog.HandlerOptions{Level: level})), nil
}

// workerConfig is what run and worker share: the model and the workers.
type workerConfig struct {
	openAIBaseURL    string
	apiKey           string
	model            string
	modelTimeout     time.Duration
	concurrency      int
	promptVersion    string
	promptsDir       string
	tasks            string
	cache            bool
	maxAge           time.Duration
	maxBodyBytes     int
	allowedLinks     string
	failUnknownLinks bool
	replayShare      float64
	shutdownGrace    time.Duration
	faults           faultConfig

	// onlyModel, when set, replaces the routes with one chain of this
	// alias alone, without fallback; wrapModel, when set, wraps every
	// model. Eval uses both to judge one model and keep its answers.
	onlyModel string
	wrapModel func(pipeline.Model) pipeline.Model
}

func (c *command) workerFlags() *workerConfig {
	wc := &workerConfig{}
	f := c.flags
	f.StringVar(&wc.openAIBaseURL, "openai-base-url", "", "OpenAI-compatible API root, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (also OPENAI_BASE_URL)")
	c.secretVar(&wc.apiKey, "openai-api-key", "API `key` (also OPENAI_API_KEY)")
	f.StringVar(&wc.model, "model", "", "model name; default: the prompt's own choice")
	f.DurationVar(&wc.modelTimeout, "model-timeout", 30*time.Second, "timeout of one model call")
	f.IntVar(&wc.concurrency, "concurrency", 8, "tickets handled at once by this process")
	f.DurationVar(&wc.shutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM, let tickets in flight finish this long before they are handed back")
	f.Float64Var(&wc.replayShare, "replay-share", 0.25, "share of --concurrency given to replays (at least one), so live tickets come first")
	f.StringVar(&wc.promptVersion, "prompt-version", "", "support_draft prompt version; default: the latest")
	f.StringVar(&wc.promptsDir, "prompts-dir", "", "load prompts from this folder instead of the built-in copy")
	f.StringVar(&wc.tasks, "run-tasks", "", "comma-separated tasks this process runs; default: every task of the config file (support_draft and triage without one)")
	f.DurationVar(&wc.maxAge, "max-age", pipeline.DefaultMaxAge, "fail tickets picked up later than this after their time as expired (negative: no limit)")
	f.IntVar(&wc.maxBodyBytes, "max-body-bytes", pipeline.DefaultMaxBodyBytes, "fail longer ticket bodies as invalid_input (too_large)")
	f.StringVar(&wc.allowedLinks, "allowed-link-hosts", "", "comma-separated hosts a draft may link to besides those in the ticket")
	f.BoolVar(&wc.failUnknownLinks, "fail-unknown-links", false, "fail a draft linking elsewhere (unsafe_content) instead of flagging it for review")
	f.BoolVar(&wc.cache, "cache", false, "answer identical input (same prompt version and model) from the draft cache, without a model call")
	c.faultFlags(&wc.faults)
	return wc
}

// Validate checks the values a flag parser cannot.
func (wc *workerConfig) Validate() error {
	switch {
	case wc.concurrency < 1:
		return usagef("--concurrency must be at least 1")
	case wc.modelTimeout <= 0:
		return usagef("--model-timeout must be positive")
	case wc.maxBodyBytes <= 0:
		return usagef("--max-body-bytes must be positive")
	}
	return nil
}

// connect dials NATS with cfg's user, TLS and inbox prefix, and keeps
// reconnecting for as long as the process lives: a broker restart must not
// end the workers (nats.go#1622).
func connect(cfg natsConfig, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	auth, err := cfg.options()
	if err != nil {
		return nil, nil, err
	}
	url := redactURL(cfg.url)
	nc, err := nats.Connect(cfg.url, append(auth,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		// Permission violations arrive here: a user missing a right shows
		// in the log instead of as a silent stall.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("nats error", "err", err, "subject", sub.Subject)
				return
			}
			log.Warn("nats error", "err", err)
		}),
	)...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream %s: %w", url, err)
	}
	return nc, js, nil
}

// drafter is what run and worker build from their flags: a logger, and a
// pipeline with its tasks and their prompts.
type drafter struct {
	log         *slog.Logger
	pipe        *pipeline.Pipeline
	tasks       []consumers.Task
	prompts     *prompts.Set
	model       string // a description for the start-up line
	concurrency int
	replayShare float64
	grace       time.Duration
	cache       bool
	money       money
	// also run beside the worker and stop with it (the in-process ledger).
	also   []func(context.Context) error
	obs    *observer
	getenv func(string) string
	// ping checks the ledger's database for readiness, when there is one.
	ping func(ctx context.Context) error
	// faults are the test-only fault injections.
	faults faultConfig
}

// parseDrafter parses the flags of run or worker, which take no
// arguments, and builds what they share.
func (c *command) parseDrafter(args []string, env *environ, lc *logConfig, wc *workerConfig, obs *observer) (*drafter, error) {
	if err := c.parse(args, env.getenv); err != nil {
		return nil, err
	}
	obs.init(c)
	if c.flags.NArg() > 0 {
		return nil, usagef("%s takes no arguments, got %q", c.name, c.flags.Args())
	}
	if err := wc.Validate(); err != nil {
		return nil, err
	}
	if err := wc.faults.Validate(); err != nil {
		return nil, err
	}
	log, err := lc.logger(env)
	if err != nil {
		return nil, err
	}
	if wc.faults.active() {
		log.Warn("test-only fault injection is on: never in production", "faults", wc.faults.String())
	}
	tasks, set, err := wc.loadTasks(c.configPath)
	if err != nil {
		return nil, err
	}
	pipe, model, err := wc.buildPipeline(c.configPath, env.getenv, tasks[0].Prompt, log, obs.metrics)
	if err != nil {
		return nil, err
	}
	m, err := readMoney(c.configPath)
	if err != nil {
		return nil, usageError{err}
	}
	pipe.Prices, pipe.Logger = m.prices, log
	return &drafter{log: log, pipe: pipe, tasks: tasks, prompts: set, model: model, concurrency: wc.concurrency, replayShare: wc.replayShare, grace: wc.shutdownGrace, cache: wc.cache, money: m, obs: obs, getenv: env.getenv, faults: wc.faults}, nil
}

// run drafts until ctx ends, then drains the connection so in-flight
// publishes and acks reach the server.
func (d *drafter) run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	if d.cache {
		kv, err := js.KeyValue(ctx, schemas.BucketCache)
		if err != nil {
			return fmt.Errorf("cache bucket %s (run 'ghostwriter streams apply'): %w", schemas.BucketCache, err)
		}
		d.pipe.Cache = consumers.KVCache{KV: kv}
	}
	stopTracing, err := setupTracing(ctx, d.getenv)
	if err != nil {
		return err
	}
	defer stopTracing()
	w := &consumers.Worker{JS: js, Pipeline: d.pipe, Tasks: d.tasks, Prompts: d.prompts, Concurrency: d.concurrency,
		ReplayShare: d.replayShare, Grace: d.grace, Logger: d.log, Metrics: d.obs.metrics}
	d.faults.apply(w)
	for _, warning := range consumers.CheckSettings(ctx, js, d.consumers(), d.concurrency) {
		d.log.Warn("a setting weakens a guarantee", "check", warning)
	}
	watch := map[string]func(context.Context) (metrics.ConsumerState, error){}
	for _, t := range d.tasks {
		watch[t.Spec.Consumer] = consumers.ConsumerState(js, schemas.StreamTickets, t.Spec.Consumer)
	}
	metrics.WatchConsumers(d.obs.reg, watch)
	stopServing, err := d.obs.serve(func(ctx context.Context) error {
		if !nc.IsConnected() {
			return errors.New("NATS not connected")
		}
		if err := w.Ready(); err != nil {
			return err
		}
		if d.ping != nil {
			if err := d.ping(ctx); err != nil {
				return errors.New("ledger database unreachable")
			}
		}
		return nil
	}, d.log)
	if err != nil {
		return err
	}
	defer stopServing()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(d.also)+1)
	for i, run := range d.also {
		wg.Go(func() { errs[i+1] = run(ctx); cancel() })
	}
	errs[0] = w.Run(ctx)
	cancel()
	wg.Wait()
	err = errors.Join(errs...)
	if derr := nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
		d.log.Warn("nats drain", "err", derr)
	}
	d.log.Info("stopped")
	return err
}

// topologyFlags are the stream and consumer settings an operator may tune.
func (c *command) topologyFlags() *consumers.Topology {
	t := consumers.DefaultTopology()
	c.flags.IntVar(&t.Replicas, "replicas", t.Replicas, "replicas of each stream and bucket (3 in a cluster)")
	c.flags.DurationVar(&t.Drafts.AckWait, "ack-wait", t.Drafts.AckWait, "redeliver a ticket after this long without an ack or heartbeat")
	c.flags.IntVar(&t.Drafts.MaxDeliver, "max-deliver", t.Drafts.MaxDeliver, "deliveries of one ticket before it is reported failed")
	c.flags.DurationVar(&t.TasksTTL, "tasks-ttl", t.TasksTTL, "how long finished tasks (and replays) are remembered: a copy of a ticket arriving later costs a model call again; the broker keeps about 90 bytes of memory per remembered task")
	return &t
}

// versions describes the tasks and their prompt versions for a start-up
// log line: "support_draft/v1 triage/v1".
func (d *drafter) versions() string {
	parts := make([]string, len(d.tasks))
	for i, t := range d.tasks {
		parts[i] = t.Spec.Name + "/" + t.Prompt.Version
	}
	return strings.Join(parts, " ")
}

// specs returns what configuration says of the tasks.
func (d *drafter) specs() []schemas.Task {
	specs := make([]schemas.Task, len(d.tasks))
	for i, t := range d.tasks {
		specs[i] = t.Spec
	}
	return specs
}

// consumers names the tasks' consumers.
func (d *drafter) consumers() []string {
	names := make([]string, len(d.tasks))
	for i, t := range d.tasks {
		names[i] = t.Spec.Consumer
	}
	return names
}
