// Package poll waits in tests for a condition with a deadline, instead of
// sleeping a guessed amount of time.
package poll

import (
	"testing"
	"time"
)

// Until calls cond until it holds, and fails the test if it still does
// not after within. It checks after 5ms, then backs off to every 100ms, so
// an expensive condition does not starve what it waits for.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	wait := 5 * time.Millisecond
	for !cond() {
		next := time.NewTimer(wait)
		select {
		case <-deadline.C:
			next.Stop()
			t.Fatalf("timed out after %v waiting for %s", within, what)
		case <-next.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}
