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

// rollMul is the multiplier of the rolling run hash: the hash of a run is
// the polynomial sum of its words' hashes, so moving one word on costs one
// word hash, not n (make bench: hashing every run word by word was most of
// the leak check).
const rollMul = 0x9E3779B97F4A7C15

// eachRun calls fn with the start and the hash of every n-word run of
// words, in order, until fn returns false.
func eachRun(words []string, n int, fn func(start int, h uint64) bool) {
	if n <= 0 || len(words) < n {
		return
	}
	pow := uint64(1) // rollMul^(n-1): the weight of a run's first word
	for range n - 1 {
		pow *= rollMul
	}
	var buf [16]uint64
	ring := buf[:]
	if n > len(buf) {
		ring = make([]uint64, n)
	}
	var h uint64
	for i, w := range words {
		hw := maphash.String(runSeed, w)
		if i >= n {
			h -= ring[i%n] * pow // the word leaving the run
		}
		h = h*rollMul + hw
		ring[i%n] = hw
		if i+1 >= n && !fn(i+1-n, h) {
			return
		}
	}
}

func newRunIndex(text string, n int) *runIndex {
	x := &runIndex{n: n, words: strings.Fields(strings.ToLower(text))}
	if len(x.words) < n {
		return x
	}
	x.starts = make(map[uint64][]int32, len(x.words)-n+1)
	eachRun(x.words, n, func(i int, h uint64) bool {
		x.starts[h] = append(x.starts[h], int32(i))
		return true
	})
	return x
}

// shares reports whether b holds one of the index's runs.
func (x *runIndex) shares(b []string) bool {
	if len(x.words) < x.n || len(b) < x.n {
		return false
	}
	found := false
	eachRun(b, x.n, func(i int, h uint64) bool {
		for _, s := range x.starts[h] {
			if equalWords(x.words[s:int(s)+x.n], b[i:i+x.n]) {
				found = true
				return false
			}
		}
		return true
	})
	return found
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
