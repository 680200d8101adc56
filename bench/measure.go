package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the CPU time, user plus system, this process has used so
// far: the workers, the embedded server and the bench itself, since they
// share the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS tracks the process's resident-set high-water mark for one
// scenario. On Linux it resets the kernel's VmHWM (clear_refs 5) at the
// start, so the figure belongs to the scenario; elsewhere, or when the
// reset is refused, it falls back to getrusage's maxrss, a high-water mark
// over the whole process life, and says so.
type peakRSS struct {
	reset bool
}

// startPeakRSS collects garbage, hands freed memory back to the kernel,
// then resets the high-water mark to what is resident now.
func startPeakRSS() peakRSS {
	runtime.GC()
	debug.FreeOSMemory()
	err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return peakRSS{reset: err == nil}
}

// MB returns the peak resident set since start, in MiB, and whether it is
// the scenario's own peak (true) or the process-lifetime maxrss (false).
func (p peakRSS) MB() (float64, bool) {
	if p.reset {
		if kb, ok := procStatusKB("VmHWM"); ok {
			return float64(kb) / 1024, true
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return float64(ru.Maxrss) / 1024, false // Linux reports KiB
}

// procStatusKB reads a "Name:  123 kB" line of /proc/self/status.
func procStatusKB(name string) (int64, bool) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		return n, err == nil
	}
	return 0, false
}

// loadAverage reads /proc/loadavg: how busy the machine was, which every
// report states because the figures depend on it.
func loadAverage() [3]float64 {
	var out [3]float64
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	for i, f := range strings.Fields(string(raw)) {
		if i == 3 {
			break
		}
		out[i], _ = strconv.ParseFloat(f, 64)
	}
	return out
}

// percentiles returns the given quantiles (0..1) of samples by the
// nearest-rank method; samples is sorted in place. +Inf samples stand for
// tickets that never got an answer, so a quantile that falls on one is
// +Inf: the bench never hides a backlog behind the answered tickets.
func percentiles(samples []float64, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	if len(samples) == 0 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	slices.Sort(samples)
	for i, q := range qs {
		rank := int(math.Ceil(q*float64(len(samples)))) - 1
		out[i] = samples[min(max(rank, 0), len(samples)-1)]
	}
	return out
}

// MemSplit is where the process's Go memory is at one moment.
type MemSplit struct {
	// ServerHeapMB and RestHeapMB share out the live heap: what the
	// embedded NATS server allocated, and the rest (the worker, the NATS
	// client, the bench).
	ServerHeapMB float64 `json:"server_heap_mb"`
	RestHeapMB   float64 `json:"rest_heap_mb"`
	// StacksMB is the goroutine stacks: about 32 KB for each ticket in
	// flight, whose handler waits for the model 17 KB deep.
	StacksMB   float64 `json:"stacks_mb"`
	Goroutines int     `json:"goroutines"`
}

// memSplit collects garbage twice and then measures: the live heap of one
// collection also holds what was allocated while it marked, and the heap
// profile is published a cycle late. The caller decides whether tickets
// may run meanwhile.
func memSplit() MemSplit {
	runtime.GC()
	runtime.GC()
	server, rest := heapSplit()
	stacks := readMetrics("/memory/classes/heap/stacks:bytes")[0] / mib
	return MemSplit{ServerHeapMB: server, RestHeapMB: rest, StacksMB: stacks, Goroutines: runtime.NumGoroutine()}
}

const mib = 1 << 20

// readMetrics reads runtime metrics of kind uint64; one this Go does not
// have reads 0.
func readMetrics(names ...string) []float64 {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	v := make([]float64, len(s))
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = float64(s[i].Value.Uint64())
		}
	}
	return v
}

// MemClasses says where the process's Go memory is now: the live heap, the
// heap's objects (live and garbage not yet swept), the next collection's
// goal, goroutine stacks, free pages kept and returned, everything the
// runtime has mapped, and the goroutines.
func MemClasses() string {
	v := readMetrics("/gc/heap/live:bytes", "/memory/classes/heap/objects:bytes", "/gc/heap/goal:bytes",
		"/memory/classes/heap/stacks:bytes", "/memory/classes/heap/free:bytes", "/memory/classes/heap/released:bytes",
		"/memory/classes/total:bytes", "/sched/goroutines:goroutines")
	return fmt.Sprintf("live heap %.0f MB, heap objects %.0f MB, goal %.0f MB, stacks %.0f MB, free %.0f MB, released %.0f MB, Go total %.0f MB, %.0f goroutines",
		v[0]/mib, v[1]/mib, v[2]/mib, v[3]/mib, v[4]/mib, v[5]/mib, v[6]/mib, v[7])
}

// heapSplit estimates the live heap of the embedded NATS server and of
// everything else in the process (the worker, the NATS client, the
// bench), in MiB, as of the last garbage collection: the heap profile's
// samples, scaled as pprof scales them, are shared out by whether their
// stack runs through nats-server, and the shares applied to the heap's
// live bytes. It needs the default MemProfileRate. Read at any moment, it
// counts garbage the sweeper has not freed yet; memSplit collects first.
func heapSplit() (brokerMB, restMB float64) {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, false)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		got, ok := runtime.MemProfile(recs, false)
		if ok {
			recs = recs[:got]
			break
		}
		n = got
	}
	rate := float64(runtime.MemProfileRate)
	var broker, rest float64
	for i := range recs {
		r := &recs[i]
		objs, bytes := r.InUseObjects(), r.InUseBytes()
		if objs <= 0 || bytes <= 0 || rate <= 0 {
			continue
		}
		// The chance a sample caught an object of this size, undone.
		scaled := float64(bytes) / (1 - math.Exp(-float64(bytes)/float64(objs)/rate))
		if stackIn(r.Stack(), "github.com/nats-io/nats-server/") {
			broker += scaled
		} else {
			rest += scaled
		}
	}
	if broker+rest == 0 {
		return 0, 0
	}
	live := readMetrics("/gc/heap/live:bytes")[0] / mib
	return live * broker / (broker + rest), live * rest / (broker + rest)
}

// stackIn reports whether any frame of stack is in a package whose path
// starts with prefix.
func stackIn(stack []uintptr, prefix string) bool {
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, prefix) {
			return true
		}
		if !more {
			return false
		}
	}
}
