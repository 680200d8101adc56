// Package metrics owns ghostwriter's Prometheus metrics and the small HTTP
// surface that serves them with the health endpoints. Names follow
// ghostwriter_<thing>_<unit>; every label is a bounded set (task, model,
// provider, outcome, error code, consumer), never an id. It knows nothing of
// NATS, models or Postgres: callers report what happened.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records what the workers do. A nil *Metrics records nothing, so
// tests and tools need not set one up. Safe for concurrent use.
type Metrics struct {
	tasks       *prometheus.CounterVec
	taskSeconds *prometheus.HistogramVec
	queueWait   *prometheus.HistogramVec
	calls       *prometheus.HistogramVec
	tokens      *prometheus.CounterVec
	costUSD     *prometheus.CounterVec
	retries     *prometheus.CounterVec
	inFlight    prometheus.Gauge
	circuit     *prometheus.GaugeVec
	deadLetters *prometheus.CounterVec
	redelivered *prometheus.CounterVec
}

// New registers ghostwriter's metrics with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ghostwriter_tasks_total",
			Help: "Tasks decided, by task, outcome (draft_ready, draft_failed, retry, duplicate, dead_letter) and error code.",
		}, []string{"task", "outcome", "error_code"}),
		taskSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ghostwriter_task_duration_seconds",
			Help:    "Time from picking a ticket up to deciding it, by task and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120},
		}, []string{"task", "outcome"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ghostwriter_queue_wait_seconds",
			Help:    "Time from the event's own time to a worker picking it up, by task.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 600},
		}, []string{"task"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ghostwriter_model_call_duration_seconds",
			Help:    "Duration of model calls, by model and outcome (ok or an error code).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60, 120},
		}, []string{"model", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ghostwriter_model_tokens_total",
			Help: "Tokens the providers reported, by model, task and kind (input, output).",
		}, []string{"model", "task", "kind"}),
		costUSD: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ghostwriter_model_cost_usd_total",
			Help: "Cost of model calls in US dollars, by model and task.",
		}, []string{"model", "task"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ghostwriter_retries_total",
			Help: "Retries, by where (in_process: a wait between calls; redelivery: a nak with delay) and reason (error code).",
		}, []string{"where", "reason"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ghostwriter_tasks_in_flight",
			Help: "Tasks being handled now.",
		}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ghostwriter_circuit_state",
			Help: "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.",
		}, []string{"provider"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ghostwriter_dead_letters_total",
			Help: "Messages sent to GHOSTWRITER_DLQ, by consumer and error detail kind.",
		}, []string{"consumer", "detail"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ghostwriter_redeliveries_total",
			Help: "Messages handled on a second or later delivery, by consumer.",
		}, []string{"consumer"}),
	}
	reg.MustRegister(m.tasks, m.taskSeconds, m.queueWait, m.calls, m.tokens, m.costUSD, m.retries,
		m.inFlight, m.circuit, m.deadLetters, m.redelivered)
	return m
}

// Task records one decided task.
func (m *Metrics) Task(task, outcome, errorCode string, took time.Duration) {
	if m == nil {
		return
	}
	m.tasks.WithLabelValues(task, outcome, errorCode).Inc()
	m.taskSeconds.WithLabelValues(task, outcome).Observe(took.Seconds())
}

// QueueWait records how long a task waited before a worker took it.
func (m *Metrics) QueueWait(task string, d time.Duration) {
	if m == nil || d < 0 {
		return
	}
	m.queueWait.WithLabelValues(task).Observe(d.Seconds())
}

// ModelCall records one model call.
func (m *Metrics) ModelCall(task, model, outcome string, took time.Duration, inputTokens, outputTokens int, costMicroUSD int64) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(model, outcome).Observe(took.Seconds())
	m.tokens.WithLabelValues(model, task, "input").Add(float64(inputTokens))
	m.tokens.WithLabelValues(model, task, "output").Add(float64(outputTokens))
	m.costUSD.WithLabelValues(model, task).Add(float64(costMicroUSD) / 1e6)
}

// Retry records a retry: "in_process" or "redelivery", with its reason.
func (m *Metrics) Retry(where, reason string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.retries.WithLabelValues(where, reason).Add(float64(n))
}

// InFlight moves the in-flight gauge by delta.
func (m *Metrics) InFlight(delta int) {
	if m == nil {
		return
	}
	m.inFlight.Add(float64(delta))
}

// Circuit states for CircuitState.
const (
	CircuitClosed   = 0
	CircuitHalfOpen = 1
	CircuitOpen     = 2
)

// CircuitState records a provider's breaker state.
func (m *Metrics) CircuitState(provider string, state int) {
	if m == nil {
		return
	}
	m.circuit.WithLabelValues(provider).Set(float64(state))
}

// DeadLetter records a message sent to the dead-letter stream.
func (m *Metrics) DeadLetter(consumer, detail string) {
	if m == nil {
		return
	}
	m.deadLetters.WithLabelValues(consumer, detailKind(detail)).Inc()
}

// Redelivered records a message handled on a later delivery.
func (m *Metrics) Redelivered(consumer string) {
	if m == nil {
		return
	}
	m.redelivered.WithLabelValues(consumer).Inc()
}

// detailKind keeps the bounded part of an error detail: "missing_field"
// of "missing_field:body", so field names from bad input never become
// label values.
func detailKind(detail string) string {
	for i := 0; i < len(detail); i++ {
		if detail[i] == ':' {
			return detail[:i]
		}
	}
	if len(detail) > 32 {
		return "other"
	}
	return detail
}

// ConsumerState is what a durable consumer reports about its backlog.
type ConsumerState struct {
	Pending, AckPending, Redelivered uint64
}

// WatchConsumers exposes the backlog of each named consumer, read from
// the server at every scrape through its state function.
func WatchConsumers(reg prometheus.Registerer, states map[string]func(ctx context.Context) (ConsumerState, error)) {
	reg.MustRegister(&consumerCollector{states: states})
}

var (
	pendingDesc     = prometheus.NewDesc("ghostwriter_consumer_pending_messages", "Messages not yet delivered to the consumer.", []string{"consumer"}, nil)
	ackPendingDesc  = prometheus.NewDesc("ghostwriter_consumer_ack_pending_messages", "Messages delivered and awaiting an ack.", []string{"consumer"}, nil)
	redeliveredDesc = prometheus.NewDesc("ghostwriter_consumer_redelivered_messages", "Messages the server is redelivering now.", []string{"consumer"}, nil)
	consumerUpDesc  = prometheus.NewDesc("ghostwriter_consumer_info_up", "1 when the consumer's info could be read at this scrape.", []string{"consumer"}, nil)
)

type consumerCollector struct {
	states map[string]func(ctx context.Context) (ConsumerState, error)
}

func (c *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- ackPendingDesc
	ch <- redeliveredDesc
	ch <- consumerUpDesc
}

func (c *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, state := range c.states {
		s, err := state(ctx)
		if err != nil {
			ch <- prometheus.MustNewConstMetric(consumerUpDesc, prometheus.GaugeValue, 0, name)
			continue
		}
		ch <- prometheus.MustNewConstMetric(consumerUpDesc, prometheus.GaugeValue, 1, name)
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(s.Pending), name)
		ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, float64(s.AckPending), name)
		ch <- prometheus.MustNewConstMetric(redeliveredDesc, prometheus.GaugeValue, float64(s.Redelivered), name)
	}
}

// Handler serves /metrics from gather, /healthz (the process answers) and
// /readyz (ready reports nil: NATS connected, consumer alive, database
// reachable, whatever the caller checks; its error text is shown, so it
// must hold no secret).
func Handler(gather prometheus.Gatherer, ready func(ctx context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// WatchBudgets exposes what is left of each named tenant's budget, read
// at each scrape through remaining (ok false: no hard limit). Tenants come
// from configuration, so the label set is bounded.
func WatchBudgets(reg prometheus.Registerer, tenants []string, remaining func(ctx context.Context, tenant string) (usd float64, ok bool, err error)) {
	reg.MustRegister(&budgetCollector{tenants: tenants, remaining: remaining})
}

var budgetDesc = prometheus.NewDesc("ghostwriter_budget_remaining_usd",
	"What is left of a configured tenant's tightest hard budget, in US dollars.", []string{"tenant"}, nil)

type budgetCollector struct {
	tenants   []string
	remaining func(ctx context.Context, tenant string) (float64, bool, error)
}

func (c *budgetCollector) Describe(ch chan<- *prometheus.Desc) { ch <- budgetDesc }

func (c *budgetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, t := range c.tenants {
		if usd, ok, err := c.remaining(ctx, t); err == nil && ok {
			ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, usd, t)
		}
	}
}
