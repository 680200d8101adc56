package pipeline

import "testing"

// FuzzKeySet checks keySet.has against hasKey, the strings.Contains loop it
// replaces, for every key list the pre-filters use.
func FuzzKeySet(f *testing.F) {
	for _, s := range []string{"", "p", "pass", "my password: x", "xoxb-1", "AKIA", "akia", "confidentiality notice",
		"© 2025", "(c)", "código de seguridad: 123", "prüfnummer", "a\u00a9b", "kennwor", "sk_", "sk"} {
		f.Add(s)
	}
	lists := [][]string{tokenKeys, passwordKeys, keyValueKeys, pinKeys, strongKeys, weakKeys, {"a", "bc"}}
	sets := make([]*keySet, len(lists))
	for i, l := range lists {
		sets[i] = newKeySet(l)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, l := range lists {
			if got, want := sets[i].has(s), hasKey(s, l); got != want {
				t.Fatalf("keySet(%q).has(%q) = %v, hasKey = %v", l, s, got, want)
			}
		}
	})
}
