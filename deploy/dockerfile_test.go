package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// dockerfile reads the instructions of a Dockerfile, grouped by stage.
func dockerfile(t *testing.T, path string) [][]instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][]instruction
	var line strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if line.Len() == 0 && (text == "" || strings.HasPrefix(text, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(text, `\`); ok {
			line.WriteString(more + " ")
			continue
		}
		line.WriteString(text)
		cmd, args, _ := strings.Cut(line.String(), " ")
		line.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// The image is built in stages into a static binary on distroless, runs
// as a non-root user, needs no shell (exec-form commands only, nothing run
// in the final stage), checks its health with the binary itself on
// /healthz, and copies only files the build context has.
func TestDockerfile(t *testing.T) {
	stages := dockerfile(t, "../Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stages; want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if base := final[0].args; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("runtime image %q; want distroless static or scratch", base)
	}
	if !slices.ContainsFunc(build, func(in instruction) bool {
		return in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "./cmd/ghostwriter")
	}) {
		t.Error("the build stage does not build a static (CGO_ENABLED=0) ghostwriter")
	}
	last := map[string]string{}
	for _, in := range final {
		last[in.cmd] = in.args
		switch in.cmd {
		case "RUN":
			t.Errorf("RUN %s in the runtime stage: it has no shell", in.args)
		case "CMD", "ENTRYPOINT":
			if !strings.HasPrefix(in.args, "[") {
				t.Errorf("%s %s: want the exec form", in.cmd, in.args)
			}
		}
	}
	if u := last["USER"]; u == "" || u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("USER %q; want a non-root user", u)
	}
	if hc := last["HEALTHCHECK"]; !strings.Contains(hc, `CMD ["/ghostwriter", "healthcheck"`) || !strings.Contains(hc, "/healthz") {
		t.Errorf("HEALTHCHECK %q; want the binary probing /healthz", hc)
	}

	ignored := dockerignore(t)
	for _, stage := range stages {
		for _, in := range stage {
			if in.cmd != "COPY" || strings.Contains(in.args, "--from=") {
				continue
			}
			fields := strings.Fields(in.args)
			for _, src := range fields[:len(fields)-1] {
				if strings.HasPrefix(src, "--") || src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
				for _, pat := range ignored {
					if ok, _ := filepath.Match(pat, src); ok || strings.HasPrefix(src, pat+"/") {
						t.Errorf("COPY %s, but .dockerignore leaves it out (%s)", src, pat)
					}
				}
			}
		}
	}
}

func dockerignore(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			pats = append(pats, l)
		}
	}
	return pats
}
