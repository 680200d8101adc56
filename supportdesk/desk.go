package supportdesk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config is what a Desk needs.
type Config struct {
	Store Store
	JS    jetstream.JetStream
	// DraftTimeout is how long after a ticket's creation the desk waits
	// for its draft before it shows "Draft unavailable" (default 30s).
	DraftTimeout time.Duration
	// PublishTimeout bounds one publish, so a broker that is away never
	// holds up an agent (default 3s).
	PublishTimeout time.Duration
	Logger         *slog.Logger
}

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("supportdesk: no store")
	case c.JS == nil:
		return errors.New("supportdesk: no JetStream")
	case c.DraftTimeout < 0 || c.PublishTimeout < 0:
		return errors.New("supportdesk: timeouts must not be negative")
	}
	return nil
}

// Desk is the support desk: its pages, its event streams and its side of
// the event contract. Its methods are safe for concurrent use.
type Desk struct {
	store          Store
	js             jetstream.JetStream
	timeout        time.Duration
	publishTimeout time.Duration
	log            *slog.Logger
	hub            *hub
	pages          pages
}

// New returns a desk; Run or Serve and ConsumeResults set it going.
func New(c Config) (*Desk, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := &Desk{store: c.Store, js: c.JS, timeout: c.DraftTimeout, publishTimeout: c.PublishTimeout,
		log: c.Logger, hub: newHub(), pages: loadPages()}
	if d.timeout == 0 {
		d.timeout = 30 * time.Second
	}
	if d.publishTimeout == 0 {
		d.publishTimeout = 3 * time.Second
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d, nil
}

// Run sets up the desk's consumer, then serves HTTP on ln and consumes
// results until ctx ends. It returns after both have stopped.
func (d *Desk) Run(ctx context.Context, ln net.Listener) error {
	cons, err := SetUp(ctx, d.js)
	if err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var consumeErr error
	wg.Go(func() {
		consumeErr = d.ConsumeResults(ctx, cons)
		cancel()
	})
	serveErr := d.Serve(ctx, ln)
	cancel()
	wg.Wait()
	return errors.Join(serveErr, consumeErr)
}

// Serve serves the desk's pages on ln until ctx ends, then closes the
// open event streams and lets other requests finish (up to 5s).
func (d *Desk) Serve(ctx context.Context, ln net.Listener) error {
	// Requests outlive ctx so that a shutdown lets them finish; event
	// streams end with streams.
	streams, endStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer endStreams()
	srv := &http.Server{
		Handler:           d.Handler(),
		BaseContext:       func(net.Listener) context.Context { return streams },
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("supportdesk.serve: %w", err)
	case <-ctx.Done():
	}
	endStreams()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("supportdesk.serve: shutdown: %w", err)
	}
	return nil
}
