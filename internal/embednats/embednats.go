// Package embednats runs an in-process NATS server with JetStream: the
// embedded default of `ghostwriter run`, and the real broker every test
// talks to. It owns the server's start, readiness and shutdown, nothing
// about streams or messages.
package embednats

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	// Listen is host:port for clients. Port 0 or -1 picks a free port.
	Listen string
	// StoreDir holds JetStream's files.
	StoreDir string
	// SyncAlways fsyncs before every ack (slower; survives power loss).
	SyncAlways bool
	// Logger receives the server's warnings and errors; nil keeps it quiet.
	Logger *slog.Logger
}

// ErrPortInUse is returned by Start when an explicitly chosen port is taken.
var ErrPortInUse = errors.New("port already in use")

// Start starts a server and waits until it accepts clients. The caller
// owns it: Shutdown and WaitForShutdown end it.
func Start(opts Options) (*server.Server, error) {
	host, portText, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("embednats.start: listen address %q: %w", opts.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embednats.start: listen port %q: %w", portText, err)
	}
	if port > 0 && !Free(opts.Listen) {
		return nil, fmt.Errorf("embednats.start: listen %s: %w", opts.Listen, ErrPortInUse)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "ghostwriter-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		SyncAlways: opts.SyncAlways,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
	})
	if err != nil {
		return nil, fmt.Errorf("embednats.start: %w", err)
	}
	if opts.Logger != nil {
		s.SetLoggerV2(slogAdapter{opts.Logger.With("component", "nats-server")}, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embednats.start: server on %s not ready after 10s", opts.Listen)
	}
	return s, nil
}

// Free reports whether addr can be listened on now.
func Free(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// slogAdapter sends the server's log to slog. Notices are debug level:
// the embedded server's banner is noise next to the worker's own lines.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  {}
