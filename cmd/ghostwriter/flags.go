package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// errHelp ends a run that printed help: exit code 0.
var errHelp = errors.New("help requested")

// envAliases are the standard variables honoured besides GHOSTWRITER_<FLAG>.
// The NATS_* names are those of the nats CLI, so one environment serves both.
var envAliases = map[string]string{
	"nats-url":            "NATS_URL",
	"nats-creds":          "NATS_CREDS",
	"nats-nkey":           "NATS_NKEY",
	"nats-tls-ca":         "NATS_CA",
	"nats-tls-cert":       "NATS_CERT",
	"nats-tls-key":        "NATS_KEY",
	"openai-api-key":      "OPENAI_API_KEY",
	"openai-api-key-file": "OPENAI_API_KEY_FILE",
	"openai-base-url":     "OPENAI_BASE_URL",
}

// command is one subcommand: its flags and what it does with them.
type command struct {
	name    string
	usage   string // one line: arguments after the flags
	summary string
	flags   *flag.FlagSet
	// explicit holds the flags given by flag, environment or config file,
	// rather than left at their default.
	explicit map[string]bool
	// from says where each explicit flag came from: one of the from*
	// levels, higher wins.
	from map[string]int
	// secrets are the flags whose value may also come from a file.
	secrets []secretFlag
	// configPath is the config file in use, "" for none.
	configPath string
	// hidden flags are test-only: parsed like the others, left out of
	// the help text.
	hidden map[string]bool
}

func newCommand(name, usage, summary string, stderr io.Writer) *command {
	c := &command{name: name, usage: usage, summary: summary, explicit: map[string]bool{}, from: map[string]int{}, hidden: map[string]bool{}}
	c.flags = flag.NewFlagSet(name, flag.ContinueOnError)
	c.flags.SetOutput(stderr)
	c.flags.String("config", "", "YAML config file; its keys are flag names")
	c.flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ghostwriter %s [flags] %s\n\n%s\n\nFlags (each also read from GHOSTWRITER_<FLAG>; precedence flag > env > config > default):\n",
			name, usage, summary)
		c.printDefaults(stderr)
	}
	return c
}

// printDefaults prints the flags' help, leaving the hidden ones out.
func (c *command) printDefaults(w io.Writer) {
	visible := flag.NewFlagSet(c.name, flag.ContinueOnError)
	visible.SetOutput(w)
	c.flags.VisitAll(func(f *flag.Flag) {
		if !c.hidden[f.Name] {
			visible.Var(f.Value, f.Name, f.Usage)
			visible.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	visible.PrintDefaults()
}

// parse reads args, then fills every flag not given on the command line
// from GHOSTWRITER_<FLAG>, its standard alias, or the config file.
func (c *command) parse(args []string, getenv func(string) string) error {
	if err := c.flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err}
	}
	c.flags.Visit(func(f *flag.Flag) { c.explicit[f.Name], c.from[f.Name] = true, fromFlag })
	fromEnv := func(name string) (string, bool) {
		if v := getenv(envName(name)); v != "" {
			return v, true
		}
		if alias, ok := envAliases[name]; ok && getenv(alias) != "" {
			return getenv(alias), true
		}
		return "", false
	}
	path := c.flags.Lookup("config").Value.String()
	if !c.explicit["config"] {
		path, _ = fromEnv("config")
	}
	c.configPath = path
	file, err := readConfig(path)
	if err != nil {
		return usageError{err}
	}
	c.configPath = path
	var errs []error
	c.flags.VisitAll(func(f *flag.Flag) {
		if c.explicit[f.Name] || f.Name == "config" {
			return
		}
		v, ok := fromEnv(f.Name)
		level := fromEnvironment
		if !ok {
			var raw any
			if raw, ok = file[f.Name]; ok {
				v, level = fmt.Sprint(raw), fromConfig
			}
		}
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
		}
		c.explicit[f.Name], c.from[f.Name] = true, level
	})
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return c.readSecrets()
}

// Where a flag's value came from; a higher level wins.
const (
	fromConfig = iota + 1
	fromEnvironment
	fromFlag
)

func envName(flagName string) string {
	return "GHOSTWRITER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func readConfig(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return m, nil
}
