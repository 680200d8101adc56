package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
)

// faultExitCode is the exit code of a worker that crashed on purpose
// (--fault-exit-after-publish), so the chaos suite can tell it from a bug.
const faultExitCode = 97

// faultConfig holds the worker's test-only fault injections: hidden flags
// the chaos suite (chaos/) sets on child processes. None of them belongs
// in production; a worker that has one on says so at start-up.
type faultConfig struct {
	// exitAfterPublish is the share of results after whose PubAck the
	// process exits at once, before the tasks bucket and the ack.
	exitAfterPublish float64
	// noInProgress stops the in-progress heartbeats during a task.
	noInProgress bool
	// nakBackoff replaces the delays between failed deliveries.
	nakBackoff string
	backoff    []time.Duration
}

func (c *command) faultFlags(fc *faultConfig) {
	f := c.flags
	f.Float64Var(&fc.exitAfterPublish, "fault-exit-after-publish", 0, "test only: exit (code 97) after this share of results is published, before the ack")
	f.BoolVar(&fc.noInProgress, "fault-no-in-progress", false, "test only: send no in-progress heartbeats during a task")
	f.StringVar(&fc.nakBackoff, "fault-nak-backoff", "", "test only: comma-separated delays between failed deliveries instead of 5s,30s,2m,5m")
	for _, name := range []string{"fault-exit-after-publish", "fault-no-in-progress", "fault-nak-backoff"} {
		c.hidden[name] = true
	}
}

// Validate checks the values and parses the back-off.
func (fc *faultConfig) Validate() error {
	if fc.exitAfterPublish < 0 || fc.exitAfterPublish > 1 {
		return usagef("--fault-exit-after-publish must be between 0 and 1")
	}
	fc.backoff = nil
	if fc.nakBackoff == "" {
		return nil
	}
	for _, s := range strings.Split(fc.nakBackoff, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d <= 0 {
			return usagef("--fault-nak-backoff %q: want positive durations", fc.nakBackoff)
		}
		fc.backoff = append(fc.backoff, d)
	}
	return nil
}

func (fc *faultConfig) active() bool {
	return fc.exitAfterPublish > 0 || fc.noInProgress || len(fc.backoff) > 0
}

func (fc *faultConfig) String() string {
	return fmt.Sprintf("exit_after_publish=%g no_in_progress=%t nak_backoff=%v", fc.exitAfterPublish, fc.noInProgress, fc.backoff)
}

// apply sets the faults on a worker.
func (fc *faultConfig) apply(w *consumers.Worker) {
	if p := fc.exitAfterPublish; p > 0 {
		w.AfterPublish = func() {
			if rand.Float64() < p {
				fmt.Fprintln(os.Stderr, "ghostwriter: --fault-exit-after-publish: exiting after a result's PubAck")
				os.Exit(faultExitCode)
			}
		}
	}
	if fc.noInProgress {
		w.InProgressEvery = 24 * time.Hour
	}
	if len(fc.backoff) > 0 {
		w.Backoff = fc.backoff
	}
}
