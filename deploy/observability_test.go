package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeYAML decodes a file strictly: unknown fields fail.
func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Prometheus scrapes services that deploy/compose.yaml has, and Grafana's
// provisioning finds the datasource and the dashboard compose mounts.
func TestObservabilityConfig(t *testing.T) {
	var prom struct {
		Global        map[string]string `yaml:"global"`
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	decodeYAML(t, "prometheus/prometheus.yml", &prom)
	var compose struct {
		Services map[string]yaml.Node `yaml:"services"`
	}
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	for _, sc := range prom.ScrapeConfigs {
		var hosts []string
		for _, d := range sc.DNSSDConfigs {
			hosts = append(hosts, d.Names...)
		}
		for _, s := range sc.StaticConfigs {
			for _, target := range s.Targets {
				host, _, _ := strings.Cut(target, ":")
				hosts = append(hosts, host)
			}
		}
		for _, h := range hosts {
			if _, ok := compose.Services[h]; !ok {
				t.Errorf("Prometheus job %s scrapes %s, which compose.yaml does not run", sc.JobName, h)
			}
		}
	}

	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string `yaml:"name"`
			UID       string `yaml:"uid"`
			Type      string `yaml:"type"`
			Access    string `yaml:"access"`
			URL       string `yaml:"url"`
			IsDefault bool   `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	decodeYAML(t, "grafana/provisioning/datasources/prometheus.yaml", &ds)
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name            string `yaml:"name"`
			Type            string `yaml:"type"`
			DisableDeletion bool   `yaml:"disableDeletion"`
			Options         struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeYAML(t, "grafana/provisioning/dashboards/ghostwriter.yaml", &dash)
	if len(dash.Providers) != 1 || !strings.Contains(string(raw), "./grafana/ghostwriter.json:"+dash.Providers[0].Options.Path+"/ghostwriter.json") {
		t.Error("compose does not mount the dashboard where Grafana's provider looks")
	}
	var board struct {
		UID    string            `json:"uid"`
		Title  string            `json:"title"`
		Panels []json.RawMessage `json:"panels"`
	}
	b, err := os.ReadFile("grafana/ghostwriter.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &board); err != nil || board.UID == "" || board.Title == "" {
		t.Errorf("grafana/ghostwriter.json: %v (uid %q, title %q)", err, board.UID, board.Title)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasources %+v; want the compose Prometheus", ds.Datasources)
	}
}
