package pipeline

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// RetryPolicy bounds the in-process retries of one endpoint. Waits longer
// than what is left of Budget are not slept: the outcome carries the delay
// and the consumer hands the message back to JetStream with it.
type RetryPolicy struct {
	// MaxAttempts per endpoint, the first call included (default 3).
	MaxAttempts int
	// Initial and Max bound the exponential backoff between attempts,
	// jittered by ±50% (defaults 500ms and 10s).
	Initial, Max time.Duration
	// Budget is the total time one endpoint may spend waiting between
	// attempts (default 20s), inside the task's own deadline.
	Budget time.Duration
}

// DefaultRetry is used where a Pipeline's Retry is zero.
var DefaultRetry = RetryPolicy{MaxAttempts: 3, Initial: 500 * time.Millisecond, Max: 10 * time.Second, Budget: 20 * time.Second}

func (r RetryPolicy) orDefault() RetryPolicy {
	if r == (RetryPolicy{}) {
		return DefaultRetry
	}
	return r
}

func (r RetryPolicy) backoff() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.Initial),
		backoff.WithMaxInterval(r.Max),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0), // the budget is ours to enforce
	)
}
