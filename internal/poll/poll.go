// Package poll waits in tests for a condition with a deadline, instead of
// sleeping a guessed amount of time.
package poll

import (
	"testing"
	"time"
)

// Until calls cond every few milliseconds until it holds, and fails the
// test if it still does not after within.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", within, what)
		case <-tick.C:
		}
	}
}
