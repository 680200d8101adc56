package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string, env *environ) error
}

// environ is what a subcommand may touch of the process.
type environ struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

var subcommands = map[string]subcommand{
	"run":       {"everything in one process on an embedded NATS server", runAll},
	"worker":    {"draft replies from an external NATS server", runWorker},
	"publish":   {"publish a ticket.created (or any contract event) from a file or stdin", runPublish},
	"streams":   {"streams apply: create or update streams, consumers and buckets", runStreams},
	"dlq":       {"dlq list | dlq redrive SEQ...: inspect and re-drive dead letters", runDLQ},
	"ledger":    {"write ai.cost events into the Postgres ledger", runLedger},
	"migrate":   {"apply the ledger's Postgres migrations", runMigrate},
	"costs":     {"print spend by day, tenant, model, task and prompt version", runCosts},
	"top":       {"a live terminal view of a running ghostwriter", runTop},
	"replay":    {"reprocess a slice of history, in shadow, with a cap; list, status, resume, cancel, diff", runReplay},
	"reconcile": {"find tickets with no result after their deadline and re-drive them", runReconcile},
	"eval":      {"run a task's saved examples against a prompt version and a model", runEval},
	"prompts":   {"prompts list | show TASK [VERSION] | lint: inspect and check the prompt files", runPrompts},
	"quality":   {"print what humans kept of the drafts, beside their cost", runQuality},
	"bench":     {"measure throughput, latency and memory against the broker's own ceiling", runBench},
}

// hidden subcommands are tools, not contracts; the usage text leaves them
// out.
var hidden = map[string]func(ctx context.Context, args []string, env *environ) error{
	"fakeai":      runFakeAI,      // the fake OpenAI-compatible API the tests use
	"healthcheck": runHealthcheck, // the container image's HEALTHCHECK
	"devsecrets":  runDevSecrets,  // throwaway secrets for deploy/compose.yaml
}

// run is main without the process: it parses args, runs one subcommand and
// returns its error. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &environ{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return errHelp
	}
	if tool, ok := hidden[args[0]]; ok {
		return tool(ctx, args[1:], env)
	}
	sub, ok := subcommands[args[0]]
	if !ok {
		printUsage(stderr)
		return usagef("unknown subcommand %q", args[0])
	}
	return sub.run(ctx, args[1:], env)
}

func printUsage(w io.Writer) {
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("ghostwriter: an AI sidecar for event-driven products.\n\nUsage: ghostwriter <subcommand> [flags]\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, subcommands[n].summary)
	}
	b.WriteString("\n'ghostwriter <subcommand> --help' lists its flags. Exit codes: 0 ok, 1 failure, 2 usage error.\n")
	fmt.Fprint(w, b.String())
}
