// Command supportdesk is the product side of the demo: a small support
// desk on the web that publishes tickets to NATS JetStream and shows
// ghostwriter's drafts as they arrive. This package only reads flags and
// wires package supportdesk together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/supportdesk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintf(os.Stderr, "supportdesk: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "supportdesk: %v\n", err)
		os.Exit(1)
	}
}

// usageError marks a mistake in how the command was called: exit code 2.
type usageError struct{ error }

const defaultAddr = "127.0.0.1:8080"

// run parses args (each flag also read from SUPPORTDESK_<FLAG>; NATS_URL
// too), then serves the desk until ctx ends. It prints the desk's URL on
// stdout once it listens.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("supportdesk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats-url", nats.DefaultURL, "NATS server URL (also NATS_URL)")
	addr := fs.String("addr", defaultAddr, "HTTP address; when the default is taken, a free port is used")
	databaseURL := fs.String("database-url", "", "Postgres URL for the tickets; in memory without one")
	timeout := fs.Duration("draft-timeout", 30*time.Second, "show \"Draft unavailable\" when no draft came this long after a ticket was created")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: supportdesk [flags]\n\nA support desk in the browser: tickets go to ghostwriter as ticket.created, drafts\ncome back live. Each flag is also read from SUPPORTDESK_<FLAG>.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] {
			return
		}
		v := getenv("SUPPORTDESK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
		if v == "" && f.Name == "nats-url" {
			v = getenv("NATS_URL")
		}
		if v != "" {
			explicit[f.Name] = true
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("supportdesk takes no arguments, got %q", fs.Args())}
	}
	if *timeout <= 0 {
		return usageError{errors.New("--draft-timeout must be positive")}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	ln, err := net.Listen("tcp", *addr)
	if err != nil && !explicit["addr"] {
		log.Info("default address is taken; using a free port", "wanted", *addr)
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	defer ln.Close()

	var store supportdesk.Store = supportdesk.NewMemory()
	if *databaseURL != "" {
		pg, err := supportdesk.OpenPostgres(ctx, *databaseURL)
		if err != nil {
			return err
		}
		defer pg.Close()
		store = pg
		log.Info("tickets in Postgres")
	} else {
		log.Info("tickets in memory (set --database-url for Postgres)")
	}

	nc, err := nats.Connect(*natsURL, nats.Name("supportdesk"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return fmt.Errorf("connect %s: %w", *natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream %s: %w", *natsURL, err)
	}
	desk, err := supportdesk.New(supportdesk.Config{Store: store, JS: js, DraftTimeout: *timeout, Logger: log})
	if err != nil {
		return usageError{err}
	}
	url := "http://" + ln.Addr().String()
	log.Info("support desk is up", "url", url, "nats_url", nc.ConnectedUrlRedacted(), "draft_timeout", *timeout)
	fmt.Fprintf(stdout, "\n  Support desk: %s\n\n", url)
	err = desk.Run(ctx, ln)
	if derr := nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
		log.Warn("nats drain", "err", derr)
	}
	log.Info("stopped")
	return err
}
