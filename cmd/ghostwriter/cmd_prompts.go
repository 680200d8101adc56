package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func runPrompts(ctx context.Context, args []string, env *environ) error {
	usage := "prompts list | prompts show TASK [VERSION] | prompts lint (each takes --prompts-dir)"
	if len(args) == 0 {
		return usagef("%s", usage)
	}
	switch args[0] {
	case "list":
		return promptsList(args[1:], env)
	case "show":
		return promptsShow(args[1:], env)
	case "lint":
		return promptsLint(args[1:], env)
	case "-h", "--help", "help":
		fmt.Fprintln(env.stderr, "Usage: ghostwriter "+usage)
		return errHelp
	}
	return usagef("prompts: unknown action %q; want list, show or lint", args[0])
}

// promptsFlag adds --prompts-dir, the flag run and worker also take.
func (c *command) promptsFlag() *string {
	return c.flags.String("prompts-dir", "", "read prompts from this folder instead of the built-in copy")
}

// promptsFS is the folder --prompts-dir names, or the built-in copy.
func promptsFS(dir string) fs.FS {
	if dir == "" {
		return prompts.Embedded
	}
	return os.DirFS(dir)
}

func promptsList(args []string, env *environ) error {
	c := newCommand("prompts list", "", "List every prompt version: task, version, content hash, model and description.", env.stderr)
	dir := c.promptsFlag()
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("prompts list takes no arguments, got %q", c.flags.Args())
	}
	set, err := prompts.Load(promptsFS(*dir))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tVERSION\tHASH\tMODEL\tDESCRIPTION")
	for _, p := range set.All() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Task, p.Version, p.Hash, p.Model.Name, p.Description)
	}
	return tw.Flush()
}

func promptsShow(args []string, env *environ) error {
	c := newCommand("prompts show", "TASK [VERSION]", "Show a prompt version (default: the latest): its front matter, its templates,\nand the prompt a ticket renders to (a built-in sample, or --ticket).", env.stderr)
	dir := c.promptsFlag()
	ticketFile := c.flags.String("ticket", "", "render this saved ticket: a ticket.created data object or envelope (default: a built-in sample)")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() < 1 || c.flags.NArg() > 2 {
		return usagef("prompts show takes TASK [VERSION], got %q", c.flags.Args())
	}
	set, err := prompts.Load(promptsFS(*dir))
	if err != nil {
		return err
	}
	p, err := set.Get(c.flags.Arg(0), c.flags.Arg(1))
	if err != nil {
		return usageError{err}
	}
	ticket := prompts.Sample
	if *ticketFile != "" {
		raw, err := os.ReadFile(*ticketFile)
		if err != nil {
			return usageError{err}
		}
		ev, err := schemas.Wrap(raw, schemas.TypeTicketCreated, "ghostwriter-cli", schemas.TicketCreated{TicketID: "T-SHOW", TenantID: "demo"})
		if err != nil {
			return usageError{err}
		}
		if err := ev.DecodeData(&ticket); err != nil {
			return usageError{err}
		}
	}
	return writeShow(env.stdout, p, ticket)
}

// writeShow prints what `prompts show` shows. The ticket is cleaned as the
// pipeline cleans it before rendering.
func writeShow(w io.Writer, p *prompts.Prompt, ticket schemas.TicketCreated) error {
	ticket.Subject, ticket.Body = pipeline.Clean(ticket.Subject), pipeline.Clean(ticket.Body)
	r, err := p.Render(prompts.Input{Ticket: ticket})
	if err != nil {
		return err
	}
	tokens := pipeline.EstimateTokens(r.System) + pipeline.EstimateTokens(r.User)
	budget := "none set"
	if p.InputBudget > 0 {
		budget = fmt.Sprintf("%d tokens", p.InputBudget)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"task", p.Task},
		{"version", p.Version},
		{"hash", p.Hash},
		{"description", p.Description},
		{"model", fmt.Sprintf("%s (temperature %g, max_tokens %d, max_tokens_cap %d)", p.Model.Name, p.Model.Temperature, p.Model.MaxTokens, p.Model.MaxTokensCap)},
		{"input budget", budget},
		{"uses", strings.Join(p.Uses, ", ")},
		{"canary", p.Canary},
		{"output", fmt.Sprintf("%s, at most %d characters, schema %s", p.SchemaName, p.MaxDraftChars, p.OutputSchema)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\n== system template\n%s\n== user template\n%s\n== rendered for ticket %s (about %d tokens; budget %s)\n-- system\n%s\n-- user\n%s\n",
		strings.TrimSpace(p.SystemTemplate), strings.TrimSpace(p.UserTemplate), ticket.TicketID, tokens, budget, r.System, r.User)
	return err
}

func promptsLint(args []string, env *environ) error {
	c := newCommand("prompts lint", "", "Check every prompt file: complete front matter, templates that parse and render,\na valid output schema, and uses that names exactly the ticket.created fields the\ntemplates read. Prints one line per problem; exit code 1 when there is any.", env.stderr)
	dir := c.promptsFlag()
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("prompts lint takes no arguments, got %q", c.flags.Args())
	}
	where := *dir
	if where == "" {
		where = "the built-in prompts"
	}
	problems := prompts.Lint(promptsFS(*dir))
	for _, p := range problems {
		fmt.Fprintln(env.stdout, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("prompts lint: %d problems in %s", len(problems), where)
	}
	fmt.Fprintf(env.stdout, "ok: %s pass lint\n", where)
	return nil
}
