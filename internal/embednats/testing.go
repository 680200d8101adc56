package embednats

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// StartTest starts a server on a free loopback port with its store in a
// temporary folder, and shuts it down when the test ends.
func StartTest(t testing.TB) *server.Server {
	t.Helper()
	s, err := Start(Options{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start embedded nats: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
