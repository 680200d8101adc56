package prompts

import (
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Sample is the ticket Lint renders every prompt with, and what
// `ghostwriter prompts show` renders when given no saved ticket. Every
// field is set, so a template that reads any of them renders.
var Sample = schemas.TicketCreated{
	TicketID: "T-SAMPLE", TenantID: "acme",
	Subject:      "Charged twice for March",
	Body:         "Hi,\n\nI was charged $49.00 twice on March 1st for the Pro plan. Can you refund the duplicate charge?\n\nThanks,\nMaria",
	CustomerTier: "pro", ProductArea: "billing", Language: "en", Channel: "email",
}

// Problem is one thing Lint found wrong in a prompt file.
type Problem struct {
	// File is the file's path inside the folder, e.g. support_draft/v1.md;
	// "." for a problem of the folder itself.
	File    string
	Message string
}

func (p Problem) String() string { return p.File + ": " + p.Message }

// ticketFields maps the Go field names of schemas.TicketCreated to their
// JSON names: the names of the ticket.created contract that templates
// reach as .Ticket.<GoName> and front matter lists in uses.
var ticketFields = func() map[string]string {
	m := map[string]string{}
	for f := range reflect.TypeFor[schemas.TicketCreated]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" && f.IsExported() {
			m[f.Name] = name
		}
	}
	return m
}()

// inputFields are the fields a template may read at its top level.
var inputFields = func() map[string]bool {
	m := map[string]bool{}
	for f := range reflect.TypeFor[Input]().Fields() {
		m[f.Name] = true
	}
	return m
}()

// Lint checks every <task>/<version>.md file of fsys and returns what is
// wrong, sorted by file; none means the folder is fit to ship. Beyond what
// Load rejects (front matter, templates, output schema, a path that
// disagrees with the front matter), it wants:
//   - complete front matter: description, model.name, input_budget, uses
//     and canary;
//   - every uses entry and every .Ticket field a template reads to be a
//     field of ticket.created;
//   - uses to list exactly the fields the templates read;
//   - the canary, when set, to be written by the system template;
//   - the templates to render Sample.
func Lint(fsys fs.FS) []Problem {
	files, err := fs.Glob(fsys, "*/*.md")
	if err != nil {
		return []Problem{{".", err.Error()}}
	}
	if len(files) == 0 {
		return []Problem{{".", "no <task>/<version>.md files"}}
	}
	var problems []Problem
	for _, name := range files {
		for _, msg := range lintFile(fsys, name) {
			problems = append(problems, Problem{name, msg})
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].File < problems[j].File })
	return problems
}

func lintFile(fsys fs.FS, name string) []string {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return []string{err.Error()}
	}
	p, err := ParseFS(fsys, name, raw)
	if err != nil {
		return []string{strings.TrimPrefix(err.Error(), "prompts.parse "+name+": ")}
	}
	var msgs []string
	add := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
	if task, version := path.Dir(name), strings.TrimSuffix(path.Base(name), ".md"); p.Task != task || p.Version != version {
		add("front matter says %s/%s, the path %s/%s", p.Task, p.Version, task, version)
	}
	for _, f := range []struct {
		key     string
		missing bool
	}{
		{"description", p.Description == ""},
		{"model.name", p.Model.Name == ""},
		{"input_budget", p.InputBudget == 0},
		{"uses", len(p.Uses) == 0},
		{"canary", p.Canary == ""},
	} {
		if f.missing {
			add("front matter needs %s", f.key)
		}
	}

	reads := map[string]bool{} // JSON names of the ticket fields read
	canaryWritten := false
	for _, t := range []*template.Template{p.system, p.user} {
		refs := templateRefs(t)
		for _, r := range refs {
			switch {
			case r.ticket != "":
				if name, ok := ticketFields[r.ticket]; ok {
					reads[name] = true
				} else {
					add("%s template reads .Ticket.%s, which ticket.created does not have", t.Name(), r.ticket)
				}
			case r.top == "Canary":
				canaryWritten = canaryWritten || t == p.system
			case !inputFields[r.top]:
				add("%s template reads .%s; a template has .Ticket and .Canary", t.Name(), r.top)
			}
		}
	}
	known := map[string]bool{}
	for _, name := range ticketFields {
		known[name] = true
	}
	for _, u := range p.Uses {
		switch {
		case !known[u]:
			add("uses lists %q, which ticket.created does not have", u)
		case !reads[u]:
			add("uses lists %q, but no template reads it", u)
		}
	}
	read := make([]string, 0, len(reads))
	for f := range reads {
		read = append(read, f)
	}
	sort.Strings(read)
	for _, f := range read {
		if len(p.Uses) > 0 && !slices.Contains(p.Uses, f) {
			add("templates read %s, but uses does not list it", f)
		}
	}
	if p.Canary != "" && !canaryWritten {
		add("canary is set, but the system template never writes {{ .Canary }}")
	}
	if _, err := p.Render(Input{Ticket: Sample}); err != nil {
		add("templates fail on a sample ticket: %v", err)
	}
	return msgs
}

// ref is one field a template reads: a top-level field of Input, and
// for .Ticket.X the Go name X.
type ref struct {
	top, ticket string
}

// dot is what "." holds at a point of a template.
type dot int

const (
	dotInput   dot = iota // the Input: .Ticket, .Canary
	dotTicket             // inside {{ with .Ticket }}
	dotUnknown            // inside range, or with on anything else
)

// templateRefs lists the fields the templates of t's set read. Fields
// read where "." is not known (inside range, or a template called by
// name) are not listed.
func templateRefs(t *template.Template) []ref {
	var refs []ref
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		d := dotInput
		if tt.Name() != t.Name() {
			d = dotUnknown
		}
		walk(tt.Tree.Root, d, &refs)
	}
	return refs
}

func walk(n parse.Node, d dot, refs *[]ref) {
	switch n := n.(type) {
	case nil:
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, d, refs)
		}
	case *parse.ActionNode:
		walk(n.Pipe, d, refs)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, d, refs)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, d, refs)
		}
	case *parse.FieldNode:
		addRef(n.Ident, d, refs)
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			addRef(n.Ident[1:], dotInput, refs)
		}
	case *parse.ChainNode:
		walk(n.Node, d, refs)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, d, d, refs)
	case *parse.WithNode:
		inner := dotUnknown
		if isTicket(n.Pipe, d) {
			inner = dotTicket
		}
		walkBranch(&n.BranchNode, d, inner, refs)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, d, dotUnknown, refs)
	case *parse.TemplateNode:
		walk(n.Pipe, d, refs)
	}
}

func walkBranch(b *parse.BranchNode, outer, inner dot, refs *[]ref) {
	walk(b.Pipe, outer, refs)
	walk(b.List, inner, refs)
	walk(b.ElseList, outer, refs)
}

func addRef(ident []string, d dot, refs *[]ref) {
	switch d {
	case dotInput:
		r := ref{top: ident[0]}
		if ident[0] == "Ticket" && len(ident) > 1 {
			r.ticket = ident[1]
		}
		*refs = append(*refs, r)
	case dotTicket:
		*refs = append(*refs, ref{top: "Ticket", ticket: ident[0]})
	}
}

// isTicket reports whether a pipeline is exactly .Ticket (or $.Ticket).
func isTicket(p *parse.PipeNode, d dot) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return d == dotInput && len(a.Ident) == 1 && a.Ident[0] == "Ticket"
	case *parse.VariableNode:
		return len(a.Ident) == 2 && a.Ident[0] == "$" && a.Ident[1] == "Ticket"
	}
	return false
}
