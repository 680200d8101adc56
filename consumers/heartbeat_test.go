package consumers

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// beatMsg counts in-progress acks; any other method is not expected.
type beatMsg struct {
	jetstream.Msg
	beats atomic.Int32
}

func (m *beatMsg) InProgress() error {
	m.beats.Add(1)
	return nil
}

func TestHeartbeatBeatsUntilStopped(t *testing.T) {
	msg := &beatMsg{}
	h := startHeartbeat(msg, 2*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for msg.beats.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d in-progress acks in 10 s, want 3", msg.beats.Load())
		}
		time.Sleep(time.Millisecond)
	}
	h.stop()
	after := msg.beats.Load()
	time.Sleep(20 * time.Millisecond) // ten periods: none may come
	if got := msg.beats.Load(); got != after {
		t.Errorf("%d in-progress acks after stop returned", got-after)
	}
}
