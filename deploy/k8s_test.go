package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Custom resources, typed with the fields their CRDs define that these
// manifests use, so that strict decoding rejects a misspelt field.
type (
	kustomization struct {
		metav1.TypeMeta `json:",inline"`
		Namespace       string `json:"namespace,omitempty"`
		Labels          []struct {
			Pairs            map[string]string `json:"pairs"`
			IncludeSelectors bool              `json:"includeSelectors,omitempty"`
		} `json:"labels,omitempty"`
		Resources []string `json:"resources"`
		Images    []struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
		} `json:"images,omitempty"`
		Patches []struct {
			Target struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"target"`
			Patch string `json:"patch"`
		} `json:"patches,omitempty"`
	}

	// scaledObject is KEDA's keda.sh/v1alpha1 ScaledObject.
	scaledObject struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			ScaleTargetRef struct {
				Name string `json:"name"`
			} `json:"scaleTargetRef"`
			MinReplicaCount *int32 `json:"minReplicaCount"`
			MaxReplicaCount *int32 `json:"maxReplicaCount"`
			PollingInterval *int32 `json:"pollingInterval,omitempty"`
			CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
			Advanced        *struct {
				HorizontalPodAutoscalerConfig *struct {
					Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
				} `json:"horizontalPodAutoscalerConfig,omitempty"`
			} `json:"advanced,omitempty"`
			Triggers []struct {
				Type     string            `json:"type"`
				Metadata map[string]string `json:"metadata"`
			} `json:"triggers"`
		} `json:"spec"`
	}

	// nackStream, nackConsumer and nackKeyValue are NACK's
	// jetstream.nats.io/v1beta2 resources.
	nackStream struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			Name            string   `json:"name"`
			Description     string   `json:"description"`
			Subjects        []string `json:"subjects"`
			Retention       string   `json:"retention"`
			Storage         string   `json:"storage"`
			Replicas        int      `json:"replicas"`
			Discard         string   `json:"discard"`
			DuplicateWindow string   `json:"duplicateWindow"`
			MaxAge          string   `json:"maxAge,omitempty"`
		} `json:"spec"`
	}
	nackConsumer struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			StreamName    string `json:"streamName"`
			DurableName   string `json:"durableName"`
			Description   string `json:"description"`
			DeliverPolicy string `json:"deliverPolicy"`
			AckPolicy     string `json:"ackPolicy"`
			AckWait       string `json:"ackWait"`
			MaxDeliver    int    `json:"maxDeliver"`
			MaxAckPending int    `json:"maxAckPending"`
			ReplayPolicy  string `json:"replayPolicy"`
			FilterSubject string `json:"filterSubject,omitempty"`
		} `json:"spec"`
	}
	nackKeyValue struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			Bucket      string `json:"bucket"`
			Description string `json:"description"`
			History     int    `json:"history"`
			TTL         string `json:"ttl"`
			Storage     string `json:"storage"`
			Replicas    int    `json:"replicas"`
		} `json:"spec"`
	}
)

// kinds maps apiVersion/kind to a new value to decode into.
var kinds = map[string]func() any{
	"v1/Namespace":                  func() any { return &corev1.Namespace{} },
	"v1/Secret":                     func() any { return &corev1.Secret{} },
	"v1/ConfigMap":                  func() any { return &corev1.ConfigMap{} },
	"apps/v1/Deployment":            func() any { return &appsv1.Deployment{} },
	"batch/v1/Job":                  func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &kustomization{} },
	"keda.sh/v1alpha1/ScaledObject":                 func() any { return &scaledObject{} },
	"jetstream.nats.io/v1beta2/Stream":              func() any { return &nackStream{} },
	"jetstream.nats.io/v1beta2/Consumer":            func() any { return &nackConsumer{} },
	"jetstream.nats.io/v1beta2/KeyValue":            func() any { return &nackKeyValue{} },
}

// manifests decodes every YAML document under k8s strictly into its
// Kubernetes type: an unknown or misspelt field, a wrong type or an
// unknown kind fails. It returns them by file.
func manifests(t *testing.T) map[string][]any {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("k8s/*/*.yaml")
	out := map[string][]any{}
	for _, f := range append(files, more...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			if meta.Kind == "" {
				continue // comments only
			}
			newObj, ok := kinds[meta.APIVersion+"/"+meta.Kind]
			if !ok {
				t.Errorf("%s document %d: unexpected %s %s", f, i+1, meta.APIVersion, meta.Kind)
				continue
			}
			obj := newObj()
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s document %d (%s): %v", f, i+1, meta.Kind, err)
				continue
			}
			if m, ok := obj.(metav1.Object); ok {
				for _, msg := range validation.IsDNS1123Subdomain(m.GetName()) {
					t.Errorf("%s: %s name %q: %s", f, meta.Kind, m.GetName(), msg)
				}
			}
			out[f] = append(out[f], obj)
		}
	}
	return out
}

// The Kubernetes manifests decode into their API types with strict field
// checking, and hold together: kustomizations list every file, workloads
// run as non-root with read-only roots and take secrets only as mounted
// files that secrets.example.yaml documents, each NATS user has the inbox
// prefix accounts.conf allows it, workers outlast their longest task, are
// probed on /readyz and /healthz and kept by a disruption budget, KEDA
// scales them on ghostwriter-drafts, and the streams Job and NACK agree on
// three replicas.
func TestKubernetesManifests(t *testing.T) {
	all := manifests(t)
	rights := natsSubscribeRights(t)
	opts, err := embednats.CheckConfig("nats/nats-server.conf")
	if err != nil {
		t.Fatal(err)
	}
	account := opts.Nkeys[0].Account.Name

	for f, objs := range all {
		for _, o := range objs {
			k, ok := o.(*kustomization)
			if !ok {
				continue
			}
			dir := filepath.Dir(f)
			listed := map[string]bool{}
			for _, r := range k.Resources {
				listed[filepath.Clean(filepath.Join(dir, r))] = true
				if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
					t.Errorf("%s lists %s: %v", f, r, err)
				}
			}
			local, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			for _, l := range local {
				if b := filepath.Base(l); b != "kustomization.yaml" && b != "secrets.example.yaml" && !listed[l] {
					t.Errorf("%s does not list %s", f, b)
				}
			}
		}
	}

	documented := map[string]bool{}
	for _, o := range all["k8s/secrets.example.yaml"] {
		if m, ok := o.(metav1.Object); ok {
			documented[m.GetName()] = true
		}
	}
	var worker *appsv1.Deployment
	var streamsJob *batchv1.Job
	pods := map[string]corev1.PodTemplateSpec{}
	for _, objs := range all {
		for _, o := range objs {
			switch o := o.(type) {
			case *appsv1.Deployment:
				pods[o.Name] = o.Spec.Template
				if o.Name == "ghostwriter-worker" {
					worker = o
				}
			case *batchv1.Job:
				pods[o.Name] = o.Spec.Template
				if o.Name == "ghostwriter-streams" {
					streamsJob = o
				}
			}
		}
	}
	for name, pod := range pods {
		checkPod(t, name, pod.Spec, documented, rights)
	}

	if worker == nil {
		t.Fatal("no ghostwriter-worker Deployment")
	}
	ps := worker.Spec.Template.Spec
	if g := ps.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= 2*time.Minute {
		t.Error("workers must get longer than a task (2m) to stop")
	}
	c := ps.Containers[0]
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Error("worker readiness is not probed on /readyz")
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Error("worker liveness is not probed on /healthz")
	}
	if len(c.Ports) == 0 || c.Ports[0].ContainerPort != 9090 || containerEnv(c, "GHOSTWRITER_METRICS_ADDR") != ":9090" {
		t.Error("the worker's probes and metrics port are not its --metrics-addr, :9090")
	}
	pdbOK := false
	for _, o := range all["k8s/worker.yaml"] {
		if pdb, ok := o.(*policyv1.PodDisruptionBudget); ok {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			pdbOK = err == nil && sel.Matches(labels.Set(worker.Spec.Template.Labels)) && pdb.Spec.MinAvailable != nil
		}
	}
	if !pdbOK {
		t.Error("no PodDisruptionBudget keeps a worker")
	}

	so := all["k8s/keda/scaledobject.yaml"]
	if len(so) != 1 {
		t.Fatal("want one ScaledObject in k8s/keda/scaledobject.yaml")
	}
	s := so[0].(*scaledObject)
	tasks := schemas.BuiltinTasks()
	if s.Spec.ScaleTargetRef.Name != worker.Name || len(s.Spec.Triggers) != len(tasks) {
		t.Fatalf("the ScaledObject scales %q with %d triggers, want one a task", s.Spec.ScaleTargetRef.Name, len(s.Spec.Triggers))
	}
	for i, task := range tasks {
		tr := s.Spec.Triggers[i]
		if tr.Type != "nats-jetstream" || tr.Metadata["stream"] != schemas.StreamTickets ||
			tr.Metadata["consumer"] != task.Consumer || tr.Metadata["account"] != account ||
			tr.Metadata["natsServerMonitoringEndpoint"] == "" || tr.Metadata["lagThreshold"] == "" {
			t.Errorf("trigger %+v; want nats-jetstream on %s/%s in account %s", tr, schemas.StreamTickets, task.Consumer, account)
		}
	}

	if streamsJob == nil || !slices.Equal(streamsJob.Spec.Template.Spec.Containers[0].Args[len(streamsJob.Spec.Template.Spec.Containers[0].Args)-2:], []string{"--replicas", "3"}) {
		t.Error("the ghostwriter-streams Job does not apply 3 replicas")
	}
	for _, o := range all["k8s/nack/jetstream.yaml"] {
		if st, ok := o.(*nackStream); ok && st.Spec.Replicas != 3 {
			t.Errorf("NACK stream %s has %d replicas", st.Spec.Name, st.Spec.Replicas)
		}
	}
}

// checkPod checks one workload's pod: hardened, secrets only as files from
// documented Secrets, and its NATS user's inbox prefix.
func checkPod(t *testing.T, name string, ps corev1.PodSpec, documented map[string]bool, rights map[string][]string) {
	t.Helper()
	sc := ps.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil {
		t.Errorf("%s: the pod may run as root or without a seccomp profile", name)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range ps.Volumes {
		volumes[v.Name] = v
		switch {
		case v.Secret != nil && !documented[v.Secret.SecretName]:
			t.Errorf("%s: Secret %s is not in secrets.example.yaml", name, v.Secret.SecretName)
		case v.ConfigMap != nil && !documented[v.ConfigMap.Name]:
			t.Errorf("%s: ConfigMap %s is not in secrets.example.yaml", name, v.ConfigMap.Name)
		}
	}
	for _, c := range ps.Containers {
		csc := c.SecurityContext
		if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
			csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
			csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: want a read-only root, no privilege escalation, no capabilities", name, c.Name)
		}
		if c.Image != "ghostwriter" {
			t.Errorf("%s/%s: image %q; the kustomization sets it from \"ghostwriter\"", name, c.Name, c.Image)
		}
		for _, e := range c.Env {
			file := strings.HasSuffix(e.Name, "_FILE") || e.Name == "NATS_NKEY" || e.Name == "NATS_CA"
			if !file {
				if strings.Contains(e.Name, "KEY") || strings.Contains(e.Name, "PASSWORD") || e.Name == "GHOSTWRITER_DATABASE_URL" {
					t.Errorf("%s/%s: %s is a secret in the environment; mount it as a file", name, c.Name, e.Name)
				}
				continue
			}
			if !mounted(c, e.Value) {
				t.Errorf("%s/%s: %s=%s is on no volume mount", name, c.Name, e.Name, e.Value)
			}
		}
		if containerEnv(c, "NATS_URL") != "" && !strings.HasPrefix(containerEnv(c, "NATS_URL"), "tls://") {
			t.Errorf("%s/%s: NATS without TLS", name, c.Name)
		}
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				t.Errorf("%s/%s: mounts unknown volume %s", name, c.Name, m.Name)
				continue
			}
			if v.Secret == nil || !strings.HasPrefix(v.Secret.SecretName, "ghostwriter-nats-") || containerEnv(c, "NATS_NKEY") == "" {
				continue
			}
			user := strings.TrimPrefix(v.Secret.SecretName, "ghostwriter-nats-")
			if prefix := containerEnv(c, "GHOSTWRITER_NATS_INBOX_PREFIX"); !slices.Contains(rights[user], prefix+".>") {
				t.Errorf("%s/%s connects as %s with inbox prefix %q; accounts.conf lets it subscribe to %v",
					name, c.Name, user, prefix, rights[user])
			}
		}
	}
}

func containerEnv(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func mounted(c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, m.MountPath+"/") {
			return true
		}
	}
	return false
}
