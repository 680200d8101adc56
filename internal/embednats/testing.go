package embednats

import (
	"flag"
	"io"
	"testing"
	"time"

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

// CheckConfig checks a nats-server configuration file exactly as
// `nats-server -t -c path` does: parsed strictly (warnings are errors),
// then validated the way server start-up validates. Variables the file
// does not define come from the environment.
func CheckConfig(path string) (*server.Options, error) {
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noop := func() {}
	return server.ConfigureOptions(fs, []string{"-t", "-c", path}, noop, noop, noop)
}

// StartConfigTest starts a server from a configuration file, after
// CheckConfig, with three changes so that tests can run side by side:
// clients connect on a free loopback port, JetStream stores into a
// temporary folder, and monitoring is off. tweak, if not nil, may change
// the options further. It shuts the server down when the test ends.
func StartConfigTest(t testing.TB, path string, tweak func(*server.Options)) *server.Server {
	t.Helper()
	opts, err := CheckConfig(path)
	if err != nil {
		t.Fatalf("nats-server -t %s: %v", path, err)
	}
	opts.CheckConfig = false
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.StoreDir = t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	if tweak != nil {
		tweak(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server %s: %v", path, err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats-server %s: not ready after 10s", path)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
