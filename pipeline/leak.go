package pipeline

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

// leaksSystem reports whether draft (words, already lower-cased) contains
// n consecutive words of the system prompt, compared in lower case: what
// sharesRun(strings.Fields(strings.ToLower(system)), draft, n) reports.
// The system prompt is the same for every ticket of a prompt version, so
// its runs are indexed once and kept (make bench: rebuilding them for every
// draft cost 6% of the worker's CPU).
func leaksSystem(system string, draft []string, n int) bool {
	if len(draft) < n {
		return false
	}
	return systemRuns(system, n).shares(draft)
}

// runIndex holds the n-word runs of a text by hash, with the text's words
// to check a hash match against, so a collision never counts as a leak.
type runIndex struct {
	n      int
	words  []string
	starts map[uint64][]int32
}

var runSeed = maphash.MakeSeed()

func hashRun(words []string) uint64 {
	var h maphash.Hash
	h.SetSeed(runSeed)
	for _, w := range words {
		h.WriteString(w)
		h.WriteByte(' ')
	}
	return h.Sum64()
}

func newRunIndex(text string, n int) *runIndex {
	x := &runIndex{n: n, words: strings.Fields(strings.ToLower(text))}
	if len(x.words) < n {
		return x
	}
	x.starts = make(map[uint64][]int32, len(x.words)-n+1)
	for i := 0; i+n <= len(x.words); i++ {
		k := hashRun(x.words[i : i+n])
		x.starts[k] = append(x.starts[k], int32(i))
	}
	return x
}

// shares reports whether b holds one of the index's runs.
func (x *runIndex) shares(b []string) bool {
	if len(x.words) < x.n || len(b) < x.n {
		return false
	}
	for i := 0; i+x.n <= len(b); i++ {
		run := b[i : i+x.n]
		for _, s := range x.starts[hashRun(run)] {
			if equalWords(x.words[s:int(s)+x.n], run) {
				return true
			}
		}
	}
	return false
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// systemIndexes caches the run index of each system prompt seen, keyed by
// its text and n. A template could put ticket text in the system prompt;
// past maxSystemIndexes distinct prompts, indexes are built per call and
// not kept, so the cache cannot grow with traffic.
var (
	systemIndexes sync.Map // runKey -> *runIndex
	systemCount   atomic.Int32
)

const maxSystemIndexes = 64

type runKey struct {
	text string
	n    int
}

func systemRuns(system string, n int) *runIndex {
	k := runKey{system, n}
	if x, ok := systemIndexes.Load(k); ok {
		return x.(*runIndex)
	}
	x := newRunIndex(system, n)
	if systemCount.Load() < maxSystemIndexes {
		if _, loaded := systemIndexes.LoadOrStore(k, x); !loaded {
			systemCount.Add(1)
		}
	}
	return x
}
