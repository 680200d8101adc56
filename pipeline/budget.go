package pipeline

import (
	"context"
	"errors"
)

// ErrBudgetExceeded is returned by Budget.Reserve when a call would cross
// a tenant's hard limit.
var ErrBudgetExceeded = errors.New("pipeline: budget exceeded")

// Budget guards tenants' spend across every worker. The ledger implements
// it over Postgres, and in memory for a single process.
type Budget interface {
	// Reserve holds estimateMicroUSD of tenantID's budget before a model
	// call. When the hold would cross a hard limit it holds nothing and
	// returns ErrBudgetExceeded; Hold.Soft reports a crossed soft limit.
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
