package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

const defaultListen = "127.0.0.1:4222"

func runAll(ctx context.Context, args []string, env *environ) error {
	c := newCommand("run", "", "Run everything in one process: an embedded NATS server with JetStream,\nthe streams, and the workers. --demo also publishes the saved tickets.", env.stderr)
	listen := c.flags.String("listen", defaultListen, "client address of the embedded NATS server; when the default is taken, a free port is used")
	dataDir := c.flags.String("data-dir", "./data", "JetStream storage folder")
	demo := c.flags.Bool("demo", false, "publish the saved tickets and print each result on stdout")
	demoDir := c.flags.String("demo-dir", "testdata/tickets", "folder of ticket.created data files for --demo")
	lc := c.logFlags()
	wc := c.workerFlags()
	obs := c.observerFlags()
	topo := c.topologyFlags()
	databaseURL := c.databaseFlag()
	d, err := c.parseDrafter(args, env, lc, wc, obs)
	if err != nil {
		return err
	}
	log := d.log

	addr := *listen
	if !c.explicit["listen"] && !embednats.Free(addr) {
		addr = "127.0.0.1:0"
		log.Info("default NATS port is taken; using a free one", "wanted", defaultListen)
	}
	srv, err := embednats.Start(embednats.Options{Listen: addr, StoreDir: *dataDir, Logger: log})
	if errors.Is(err, embednats.ErrPortInUse) {
		return usagef("--listen %s: that port is already in use; pick another or stop what holds it", addr)
	}
	if err != nil {
		return err
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	url := srv.ClientURL()
	log.Info("embedded NATS with JetStream is up", "url", url, "data_dir", *dataDir,
		"model", d.model, "tasks", d.versions())
	fmt.Fprintf(env.stderr, "\n  NATS_URL=%s\n  publish a ticket:  ghostwriter publish --nats-url %s --wait testdata/tickets/01-refund-double-charge.json\n\n", url, url)

	nc, js, err := connect(natsConfig{url: url}, "ghostwriter-run", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	topo.Tasks = d.specs()
	if err := consumers.Apply(ctx, js, *topo); err != nil {
		return err
	}
	releaseLedger, err := d.withLedger(ctx, js, *databaseURL)
	if err != nil {
		return err
	}
	defer releaseLedger()

	if *demo {
		sub, err := printResults(nc, env, d.specs())
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
		n, err := publishDir(ctx, js, *demoDir)
		if err != nil {
			return err
		}
		log.Info("demo tickets published", "count", n, "dir", *demoDir)
	}

	return d.run(ctx, nc, js)
}

// publishDir publishes every *.json file of dir as a ticket.created. Event
// ids name the run and the file, so every --demo run drafts anew while a
// retried publish inside one run is stored once.
func publishDir(ctx context.Context, js jetstream.JetStream, dir string) (int, error) {
	run := time.Now().UTC().Format("20060102T150405")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("demo: no *.json tickets in %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return 0, fmt.Errorf("demo: %w", err)
		}
		env, err := schemas.Wrap(raw, schemas.TypeTicketCreated, "ghostwriter-demo", schemas.TicketCreated{})
		if err != nil {
			return 0, fmt.Errorf("demo %s: %w", filepath.Base(f), err)
		}
		env.ID = "demo-" + run + "-" + strings.TrimSuffix(filepath.Base(f), ".json")
		if _, err := consumers.Publish(ctx, js, env); err != nil {
			return 0, fmt.Errorf("demo %s: %w", filepath.Base(f), err)
		}
	}
	return len(files), nil
}

// printResults prints one line per result on stdout while the demo runs.
func printResults(nc *nats.Conn, env *environ, tasks []schemas.Task) (*nats.Subscription, error) {
	var mu sync.Mutex
	return nc.Subscribe("ticket.*", func(m *nats.Msg) {
		e, err := schemas.Decode(m.Data)
		if err != nil {
			return
		}
		line := ""
		switch e.Type {
		case schemas.TypeDraftReady:
			var d schemas.DraftReady
			if e.DecodeData(&d) != nil {
				return
			}
			review := ""
			if d.RequiresReview {
				review = " [review]"
			}
			line = fmt.Sprintf("drafted  %-8s %-15s conf=%.2f model=%s%s  %q", d.TicketID, d.Reason, d.Confidence, d.Model, review, preview(d.Draft))
		default:
			line = resultLine(e, tasks)
		}
		if line == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(env.stdout, line)
	})
}

// resultLine is the demo's line for another task's result: its answer's
// own fields, or the failure; "" for an event that is no result.
func resultLine(e schemas.Envelope, tasks []schemas.Task) string {
	for _, t := range tasks {
		switch e.Type {
		case t.Failed:
			var f schemas.DraftFailed
			if e.DecodeData(&f) != nil {
				return ""
			}
			return fmt.Sprintf("failed   %-8s %s %s: %s", f.TicketID, t.Name, f.ErrorCode, f.ErrorDetail)
		case t.Ready:
			var data map[string]any
			if e.DecodeData(&data) != nil {
				return ""
			}
			var fields []string
			for _, k := range slices.Sorted(maps.Keys(data)) {
				if !slices.Contains(schemas.ResultFields, k) {
					fields = append(fields, fmt.Sprintf("%s=%v", k, data[k]))
				}
			}
			return fmt.Sprintf("%-8s %-8s %s", t.Name, data["ticket_id"], strings.Join(fields, " "))
		}
	}
	return ""
}

func preview(s string) string {
	r := []rune(s)
	if len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}
