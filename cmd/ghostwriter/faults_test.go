package main

import (
	"strings"
	"testing"
	"time"
)

// The fault flags are test-only: parsed and applied, never in the help.
func TestFaultFlagsAreHiddenAndParsed(t *testing.T) {
	var help syncBuffer
	c := newCommand("worker", "", "", &help)
	wc := c.workerFlags()
	if err := c.parse([]string{"--fault-exit-after-publish", "0.01", "--fault-no-in-progress", "--fault-nak-backoff", "1s, 2s"}, noEnv); err != nil {
		t.Fatal(err)
	}
	if err := wc.faults.Validate(); err != nil {
		t.Fatal(err)
	}
	if wc.faults.exitAfterPublish != 0.01 || !wc.faults.noInProgress || len(wc.faults.backoff) != 2 || wc.faults.backoff[1] != 2*time.Second {
		t.Errorf("faults %s", wc.faults.String())
	}
	c.flags.Usage()
	if out := help.String(); strings.Contains(out, "fault-") || !strings.Contains(out, "-concurrency") {
		t.Errorf("help shows a fault flag, or lost the others:\n%s", out)
	}
	for _, bad := range []faultConfig{{exitAfterPublish: 2}, {nakBackoff: "soon"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no usage error", bad)
		}
	}
}
