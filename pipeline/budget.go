package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

// ErrBudgetExceeded is returned by Budget.Reserve when a call would cross
// a tenant's hard limit.
var ErrBudgetExceeded = errors.New("pipeline: budget exceeded")

// ErrBudgetBusy is returned by Budget.Reserve when a call would cross a
// hard limit only because of what calls in flight hold: once they settle
// (usually below their estimates) it may fit, so the task is retried.
var ErrBudgetBusy = errors.New("pipeline: budget held by calls in flight")

// Budget guards tenants' spend across every worker. The ledger implements
// it over Postgres, and in memory for a single process.
type Budget interface {
	// Reserve holds estimateMicroUSD of tenantID's budget before a model
	// call. When the hold would cross a hard limit it holds nothing and
	// returns ErrBudgetExceeded, or ErrBudgetBusy when only other holds
	// stand in the way; Hold.Soft reports a crossed soft limit.
	Reserve(ctx context.Context, tenantID string, estimateMicroUSD int64) (Hold, error)
	// Settle replaces a hold's estimate with what the call really cost
	// (zero when it cost nothing). Each hold is settled once.
	Settle(ctx context.Context, h Hold, actualMicroUSD int64) error
}

// Hold is an amount reserved by Budget.Reserve.
type Hold struct {
	ID               string
	TenantID         string
	EstimateMicroUSD int64
	// Soft is true when the tenant is over a soft limit: warn, don't stop.
	Soft bool
}

// settleTimeout bounds Budget.Settle, which runs even when the task's
// context has ended: an unsettled hold keeps the tenant's money reserved.
const settleTimeout = 5 * time.Second

// guardedCall is callOnce behind the tenant's budget: it reserves an
// estimate of the call first, makes no call when that would cross a hard
// limit, and settles the hold with what the call really cost. Without a
// Budget, and for the offline rules model, which costs nothing, it is
// callOnce.
func (p *Pipeline) guardedCall(ctx context.Context, ep *Endpoint, req Request, out *Outcome) (Response, error) {
	if p.Budget == nil || ep.Offline {
		return p.callOnce(ctx, ep, req, out)
	}
	tenantID := req.TenantID
	hold, err := p.Budget.Reserve(ctx, tenantID, p.estimate(req))
	switch {
	case errors.Is(err, ErrBudgetExceeded):
		return Response{}, &ModelError{Code: CodeBudgetExceeded, Detail: "tenant budget exceeded; no model call made", Err: err}
	case errors.Is(err, ErrBudgetBusy):
		// Retryable: the holds in the way settle within a model call.
		return Response{}, &ModelError{Code: CodeRateLimited, Detail: "tenant budget held by calls in flight; no model call made", Err: err}
	case err != nil && ctx.Err() != nil:
		return Response{}, fmt.Errorf("pipeline.budget: %w", ctx.Err())
	case err != nil:
		// Retryable: the budget store may be back for the next delivery.
		return Response{}, &ModelError{Code: CodeProviderUnavailable, Detail: "budget store unavailable; no model call made", Err: err}
	}
	out.BudgetSoft = out.BudgetSoft || hold.Soft
	n := len(out.Calls)
	resp, err := p.callOnce(ctx, ep, req, out)
	var actual int64
	if len(out.Calls) > n {
		actual = out.Calls[len(out.Calls)-1].CostMicroUSD
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if serr := p.Budget.Settle(sctx, hold, actual); serr != nil {
		p.logger().Warn("budget settle failed; the estimate stays reserved",
			"tenant_id", tenantID, "hold_id", hold.ID, "cost_microusd", actual, "err", serr)
	}
	return resp, err
}

// estimate is what a call may cost at most, roughly: its messages at four
// characters a token, plus every output token it may produce. A model
// without a price is estimated at the dearest price in the table, so an
// unpriced model cannot slip past a budget.
func (p *Pipeline) estimate(req Request) int64 {
	chars := 0
	for _, m := range req.Messages {
		chars += utf8.RuneCountInString(m.Content)
	}
	input, output := (chars+3)/4, req.MaxTokens
	if price, ok := p.lookup(req.Model); ok {
		return price.Cost(input, 0, output)
	}
	var most int64
	for _, price := range p.Prices {
		most = max(most, price.Cost(input, 0, output))
	}
	return most
}

// Estimate is what running t would cost at most on the first model of its
// route: its rendered prompt at four characters a token plus every output
// token the prompt allows, priced as the budget guard prices it. The rules
// model costs nothing. Replays use it to stay under their cost cap.
func (p *Pipeline) Estimate(t Task) int64 {
	ticket := t.Ticket
	ticket.Subject, ticket.Body = Clean(ticket.Subject), Clean(ticket.Body)
	_, chain, err := p.pick(ticket, EstimateTokens(ticket.Subject+"\n"+ticket.Body), t.Prompt)
	if err != nil || chain[0].Offline {
		return 0
	}
	rendered, err := t.Prompt.Render(prompts.Input{Ticket: ticket})
	if err != nil {
		return 0
	}
	return p.estimate(Request{
		Model:     chain[0].Name,
		Messages:  []Message{{Role: "system", Content: rendered.System}, {Role: "user", Content: rendered.User}},
		MaxTokens: t.Prompt.Model.MaxTokens,
	})
}
