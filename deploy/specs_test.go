package deploy_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
)

var update = flag.Bool("update", false, "rewrite the generated stream specs and NACK resources")

// production is the topology the specs describe: the defaults of
// `ghostwriter streams apply`, on a 3-node cluster.
func production() consumers.Topology {
	t := consumers.DefaultTopology()
	t.Replicas = 3
	return t
}

// The stream and consumer specs in deploy/nats and the NACK resources in
// deploy/k8s/nack are generated from consumers.Topology, the definitions
// `ghostwriter streams apply` uses; `go test ./deploy -update` rewrites
// them.
func TestSpecsMatchTopology(t *testing.T) {
	topo := production()
	want := map[string][]byte{}
	for _, s := range topo.Streams() {
		want[filepath.Join("nats", "streams", s.Name+".json")] = jsonSpec(t, s)
	}
	for _, c := range topo.Consumers() {
		want[filepath.Join("nats", "consumers", c.Stream+"."+c.Config.Durable+".json")] = jsonSpec(t, c.Config)
	}
	want[filepath.Join("k8s", "nack", "jetstream.yaml")] = nackResources(t, topo)

	for _, dir := range []string{"nats/streams", "nats/consumers", "k8s/nack"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			if _, ok := want[f]; !ok && !strings.HasSuffix(f, "kustomization.yaml") {
				if *update {
					_ = os.Remove(f)
					continue
				}
				t.Errorf("%s is not generated from the topology; remove it or run go test ./deploy -update", f)
			}
		}
	}
	names := make([]string, 0, len(want))
	for f := range want {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		if *update {
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, want[f], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%v (go test ./deploy -update writes it)", err)
			continue
		}
		if !bytes.Equal(got, want[f]) {
			t.Errorf("%s differs from the topology; run go test ./deploy -update and review the diff", f)
		}
	}
}

// jsonSpec is the JSON of the JetStream API, which `nats stream add
// --config` and `nats consumer add --config` read.
func jsonSpec(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// nack is a NACK (jetstream.nats.io/v1beta2) resource.
type nack struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   map[string]any `yaml:"metadata"`
	Spec       map[string]any `yaml:"spec"`
}

// nackResources renders the topology as NACK Stream, Consumer and
// KeyValue resources.
func nackResources(t *testing.T, topo consumers.Topology) []byte {
	t.Helper()
	var docs []nack
	res := func(kind, name string, spec map[string]any) {
		docs = append(docs, nack{APIVersion: "jetstream.nats.io/v1beta2", Kind: kind,
			Metadata: map[string]any{"name": k8sName(name), "labels": map[string]any{"app.kubernetes.io/part-of": "ghostwriter"}},
			Spec:     spec})
	}
	for _, s := range topo.Streams() {
		spec := map[string]any{
			"name": s.Name, "description": s.Description, "subjects": s.Subjects,
			"retention": api(t, s.Retention), "storage": api(t, s.Storage), "replicas": s.Replicas,
			"discard": api(t, s.Discard), "duplicateWindow": duration(s.Duplicates),
		}
		if s.MaxAge > 0 {
			spec["maxAge"] = duration(s.MaxAge)
		}
		res("Stream", s.Name, spec)
	}
	for _, c := range topo.Consumers() {
		spec := map[string]any{
			"streamName": c.Stream, "durableName": c.Config.Durable, "description": c.Config.Description,
			"deliverPolicy": api(t, c.Config.DeliverPolicy), "ackPolicy": api(t, c.Config.AckPolicy),
			"ackWait": duration(c.Config.AckWait), "maxDeliver": c.Config.MaxDeliver, "maxAckPending": c.Config.MaxAckPending,
			"replayPolicy": api(t, c.Config.ReplayPolicy),
		}
		if c.Config.FilterSubject != "" {
			spec["filterSubject"] = c.Config.FilterSubject
		}
		res("Consumer", c.Config.Durable, spec)
	}
	for _, kv := range topo.Buckets() {
		res("KeyValue", kv.Bucket, map[string]any{
			"bucket": kv.Bucket, "description": kv.Description, "history": int(kv.History),
			"ttl": duration(kv.TTL), "storage": api(t, kv.Storage), "replicas": kv.Replicas,
		})
	}
	var b bytes.Buffer
	b.WriteString("# Generated from consumers.Topology by `go test ./deploy -update`; do not edit.\n" +
		"# ghostwriter's streams, consumers and buckets as NACK resources: the\n" +
		"# alternative to `ghostwriter streams apply --replicas 3` where the NACK\n" +
		"# controller (connected as the ops user) manages JetStream. TICKETS belongs\n" +
		"# to the product: leave it out if the product declares it.\n")
	for _, d := range docs {
		b.WriteString("---\n")
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// api is the JetStream API's name of a policy or storage type, which NACK
// uses too: "limits", "file", "explicit".
func api(t *testing.T, v json.Marshaler) string {
	t.Helper()
	raw, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// k8sName turns a JetStream name into a Kubernetes object name.
func k8sName(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", "-"))
}

// duration prints d the short way NACK's time.ParseDuration reads: 720h,
// 2m, 60s.
func duration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return d.String()
	}
}
