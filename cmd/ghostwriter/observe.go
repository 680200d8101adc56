package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
	"github.com/ghostwriter-ai/ghostwriter/metrics"
)

const defaultMetricsAddr = "127.0.0.1:9090"

// observer is a process's metrics registry and HTTP endpoint.
type observer struct {
	addr     string
	explicit bool
	reg      *prometheus.Registry
	metrics  *metrics.Metrics
}

func (c *command) observerFlags() *observer {
	o := &observer{}
	c.flags.StringVar(&o.addr, "metrics-addr", defaultMetricsAddr, "serve /metrics, /healthz and /readyz here (\"\" turns it off; when the default is taken, metrics are off)")
	return o
}

// init makes the registry, after flags are parsed.
func (o *observer) init(c *command) {
	o.explicit = c.explicit["metrics-addr"]
	o.reg = prometheus.NewRegistry()
	o.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	o.metrics = metrics.New(o.reg)
}

// serve starts the HTTP endpoint and returns its stop. A taken default
// port only costs the metrics, with a warning; an explicit one is an error.
func (o *observer) serve(ready func(ctx context.Context) error, log *slog.Logger) (stop func(), err error) {
	if o.addr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		if o.explicit {
			return nil, usagef("--metrics-addr %s: %v", o.addr, err)
		}
		log.Warn("metrics endpoint off: its default address is taken; set --metrics-addr", "addr", o.addr)
		return func() {}, nil
	}
	srv := &http.Server{Handler: metrics.Handler(o.reg, ready), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint", "err", err)
		}
	}()
	log.Info("metrics, health and readiness", "url", "http://"+l.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// budgetStatuser is what the ledgers tell of a tenant's budget.
type budgetStatuser interface {
	Status(ctx context.Context, tenantID string) (ledger.BudgetStatus, bool, error)
}

// watchBudgets exposes the configured tenants' remaining budgets.
func (o *observer) watchBudgets(tenants []string, ledgers budgetStatuser) {
	if len(tenants) == 0 {
		return
	}
	metrics.WatchBudgets(o.reg, tenants, func(ctx context.Context, tenant string) (float64, bool, error) {
		st, found, err := ledgers.Status(ctx, tenant)
		if err != nil || !found {
			return 0, false, err
		}
		left, ok := st.RemainingMicroUSD()
		return float64(left) / 1e6, ok, nil
	})
}

// setupTracing exports spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT
// (or its traces variant) is set; otherwise tracing stays the global no-op,
// which costs nothing. The exporter reads the standard OTEL_* variables.
func setupTracing(ctx context.Context, getenv func(string) string) (shutdown func(), err error) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func() {}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("ghostwriter")))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	}, nil
}
