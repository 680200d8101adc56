package supportdesk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The desk is the product: it talks to ghostwriter through events only,
// so of ghostwriter it may import schemas, the contract, and nothing else
// (no pipeline, consumers, ledger or prompts).
func TestImportsOnlySchemasOfGhostwriter(t *testing.T) {
	t.Parallel()
	const module = "github.com/ghostwriter-ai/ghostwriter"
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", module+"/supportdesk", module+"/cmd/supportdesk").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{module + "/schemas": true, module + "/supportdesk": true, module + "/cmd/supportdesk": true}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module+"/") && !allowed[pkg] {
			t.Errorf("the support desk depends on %s; it may use only %s/schemas of ghostwriter", pkg, module)
		}
	}
}
