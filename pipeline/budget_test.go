package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// budgetFunc is a fake Budget: a struct of func fields.
type budgetFunc struct {
	reserve func(ctx context.Context, tenantID string, estimate int64) (pipeline.Hold, error)
	settle  func(ctx context.Context, h pipeline.Hold, actual int64) error
}

func (b budgetFunc) Reserve(ctx context.Context, tenantID string, estimate int64) (pipeline.Hold, error) {
	return b.reserve(ctx, tenantID, estimate)
}

func (b budgetFunc) Settle(ctx context.Context, h pipeline.Hold, actual int64) error {
	return b.settle(ctx, h, actual)
}

func TestRunBudget(t *testing.T) {
	failing := &countingModel{complete: func(context.Context, pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeProviderUnavailable, Status: 503}
	}}
	tests := []struct {
		name       string
		model      pipeline.Model
		reserveErr error
		soft       bool
		wantCode   pipeline.Code
		wantCalls  int   // model calls made
		wantSettle int64 // -1: Settle not called
		wantSoft   bool
	}{
		{"within budget", answer(validAnswer, "stop"), nil, false, "", 1, 270, false},
		{"over a soft limit", answer(validAnswer, "stop"), nil, true, "", 1, 270, true},
		{"over the hard limit", answer(validAnswer, "stop"), pipeline.ErrBudgetExceeded, false, pipeline.CodeBudgetExceeded, 0, -1, false},
		{"held by calls in flight", answer(validAnswer, "stop"), pipeline.ErrBudgetBusy, false, pipeline.CodeRateLimited, 0, -1, false},
		{"budget store down", answer(validAnswer, "stop"), errors.New("connection refused"), false, pipeline.CodeProviderUnavailable, 0, -1, false},
		{"failed call settles 0", failing, nil, false, pipeline.CodeProviderUnavailable, 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			model := &countingModel{complete: func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
				calls.Add(1)
				return tt.model.Complete(ctx, req)
			}}
			var estimate int64
			settled := int64(-1)
			budget := budgetFunc{
				reserve: func(_ context.Context, tenantID string, est int64) (pipeline.Hold, error) {
					if tenantID != "acme" {
						t.Errorf("reserve for tenant %q", tenantID)
					}
					estimate = est
					if tt.reserveErr != nil {
						return pipeline.Hold{}, tt.reserveErr
					}
					return pipeline.Hold{ID: "h1", TenantID: tenantID, EstimateMicroUSD: est, Soft: tt.soft}, nil
				},
				settle: func(_ context.Context, h pipeline.Hold, actual int64) error {
					if h.ID != "h1" {
						t.Errorf("settled hold %q", h.ID)
					}
					settled = actual
					return nil
				},
			}
			p := &pipeline.Pipeline{Model: model, Budget: budget, Retry: pipeline.RetryPolicy{MaxAttempts: 1, Budget: time.Second},
				Prices: map[string]pipeline.Price{"m1": {InputPerMTok: 150_000, OutputPerMTok: 600_000}}}
			tk := task(t, "hi")
			p.DefaultModel = "m1"
			out := p.Run(context.Background(), tk)
			if out.Code != tt.wantCode || calls.Load() != int64(tt.wantCalls) || len(out.Calls) != tt.wantCalls {
				t.Fatalf("code %q, model calls %d, recorded calls %d (%s); want %q, %d", out.Code, calls.Load(), len(out.Calls), out.Detail, tt.wantCode, tt.wantCalls)
			}
			if settled != tt.wantSettle || out.BudgetSoft != tt.wantSoft {
				t.Errorf("settled %d soft %v, want %d %v", settled, out.BudgetSoft, tt.wantSettle, tt.wantSoft)
			}
			// The estimate covers every output token the prompt allows.
			outputBound := pipeline.Price{OutputPerMTok: 600_000}
			if bound := outputBound.Cost(0, 0, tk.Prompt.Model.MaxTokens); estimate < bound {
				t.Errorf("estimate %d µ$ is below the output bound %d", estimate, bound)
			}
			if tt.wantCode == pipeline.CodeBudgetExceeded && (out.Retryable() || out.Attempts != 0) {
				t.Errorf("budget_exceeded: retryable %v attempts %d, want permanent and no attempt", out.Retryable(), out.Attempts)
			}
		})
	}
}

func TestPriceCost(t *testing.T) {
	mini := pipeline.Price{InputPerMTok: 150_000, CachedInputPerMTok: 75_000, OutputPerMTok: 600_000}
	tests := []struct {
		name               string
		price              pipeline.Price
		in, cached, output int
		want               int64
	}{
		{"no cache", mini, 1000, 0, 200, 270},
		{"half cached", mini, 1000, 500, 200, 233}, // 500×0.15 + 500×0.075 + 200×0.6 = 232.5, rounded up
		{"cached price unset bills as input", pipeline.Price{InputPerMTok: 150_000, OutputPerMTok: 600_000}, 1000, 500, 200, 270},
		{"cached above input is capped", mini, 100, 500, 0, 8},
		{"rounds up", mini, 1, 0, 0, 1},
		{"zero", mini, 0, 0, 0, 0},
		{"unpriced", pipeline.Price{}, 1000, 0, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.price.Cost(tt.in, tt.cached, tt.output); got != tt.want {
				t.Errorf("Cost(%d, %d, %d) = %d, want %d", tt.in, tt.cached, tt.output, got, tt.want)
			}
		})
	}
}

// A dated snapshot is priced as the model asked for; a model the table
// does not know costs 0 and is logged once, never an error.
func TestRunPricesByAnsweringOrRequestedModel(t *testing.T) {
	answering := func(model string) pipeline.Model {
		return &countingModel{complete: func(context.Context, pipeline.Request) (pipeline.Response, error) {
			return pipeline.Response{Text: validAnswer, Model: model, Provider: "p", InputTokens: 1000, CachedInputTokens: 500,
				OutputTokens: 200, ReasoningTokens: 50, FinishReason: "stop"}, nil
		}}
	}
	prices := map[string]pipeline.Price{"m1": {InputPerMTok: 150_000, CachedInputPerMTok: 75_000, OutputPerMTok: 600_000}}
	tests := []struct {
		name, answered string
		want           int64
		wantWarn       bool
	}{
		{"exact", "m1", 233, false},
		{"dated snapshot of the requested model", "m1-2026-01-01", 233, false},
		{"unknown everywhere", "mystery", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			p := &pipeline.Pipeline{Model: answering(tt.answered), DefaultModel: "m1", Prices: prices,
				Logger: slog.New(slog.NewTextHandler(&log, nil))}
			if tt.name == "unknown everywhere" {
				p.DefaultModel = "also-unknown"
			}
			for range 3 {
				out := p.Run(context.Background(), task(t, "hi"))
				if !out.Ready || out.CostMicroUSD != tt.want || out.Calls[0].CachedInputTokens != 500 || out.Calls[0].ReasoningTokens != 50 {
					t.Fatalf("ready %v cost %d calls %+v, want cost %d", out.Ready, out.CostMicroUSD, out.Calls, tt.want)
				}
			}
			warnings := strings.Count(log.String(), "has no price")
			if tt.wantWarn && warnings != 1 || !tt.wantWarn && warnings != 0 {
				t.Errorf("%d price warnings in 3 runs, want %v once:\n%s", warnings, tt.wantWarn, log.String())
			}
		})
	}
}
