package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// classifyEachKeyword is Classify as it was: one countWordPrefix pass per
// keyword. The one-pass Classify must agree with it everywhere.
func classifyEachKeyword(text string) (string, int) {
	lower := strings.ToLower(text)
	reason, hits := ReasonOther, 0
	for _, r := range rules {
		n := 0
		for _, k := range r.keywords {
			n += countWordPrefix(lower, k)
		}
		if n > hits {
			reason, hits = r.reason, n
		}
	}
	return reason, hits
}

func FuzzClassifyOnePass(f *testing.F) {
	for _, s := range []string{"", "refund refund", "I was charged twice, refund!", "explanation plans plan",
		"ログインできません。パスワード", "log in login log inlog in", "500500 500", "Zahlung abgebucht; Rechnung",
		"payment-paid paidpaid", "überpayment", "a", "ééé refund", "two-factortwo-factor two-factor"} {
		f.Add(s)
	}
	files, _ := filepath.Glob("../../testdata/tickets/*.json")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err == nil {
			f.Add(string(raw))
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		r1, n1 := Classify(text)
		r2, n2 := classifyEachKeyword(text)
		if r1 != r2 || n1 != n2 {
			t.Fatalf("Classify = %s %d, one pass per keyword = %s %d: %q", r1, n1, r2, n2, text)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/tickets/01-refund-double-charge.json")
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat(string(raw), 2)
	b.Run("one pass", func(b *testing.B) {
		for b.Loop() {
			Classify(text)
		}
	})
	b.Run("per keyword", func(b *testing.B) {
		for b.Loop() {
			classifyEachKeyword(text)
		}
	})
}
