package natsqueue

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const deployDir = "../../deploy"

// deployDocs parses every YAML file under deploy/, each document of each.
func deployDocs(t *testing.T) map[string][]map[string]any {
	t.Helper()
	docs := map[string][]map[string]any{}
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Errorf("%s: %v", path, err)
				break
			}
			if doc != nil {
				rel := filepath.ToSlash(strings.TrimPrefix(path, deployDir+"/"))
				docs[rel] = append(docs[rel], doc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// dig walks nested maps and lists: a string key indexes a map, an int a
// list.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestDeployFiles checks that the deployment examples parse and agree
// with this package's names and with each other.
func TestDeployFiles(t *testing.T) {
	docs := deployDocs(t)
	for _, name := range []string{"compose.yaml", "kubernetes/imagegen.yaml"} {
		if len(docs[name]) == 0 {
			t.Fatalf("%s: missing or empty", name)
		}
	}

	compose := docs["compose.yaml"][0]
	if cmd := strs(dig(compose, "services", "nats", "command")); !slices.Contains(cmd, "--jetstream") {
		t.Errorf("compose: nats runs %v, without --jetstream", cmd)
	}
	for _, svc := range []string{"serve", "worker"} {
		cmd := strs(dig(compose, "services", svc, "command"))
		if len(cmd) == 0 || cmd[0] != svc || !slices.Contains(cmd, "--queue=nats://nats:4222") {
			t.Errorf("compose: %s runs %v; want %s --queue=nats://nats:4222", svc, cmd, svc)
		}
	}

	kinds := map[string]map[string]any{}
	for _, d := range docs["kubernetes/imagegen.yaml"] {
		kind, _ := d["kind"].(string)
		name, _ := dig(d, "metadata", "name").(string)
		kinds[kind+"/"+name] = d
	}
	for _, want := range []string{"Deployment/imagegen-serve", "Deployment/imagegen-worker", "Service/imagegen", "ScaledObject/imagegen-worker"} {
		if kinds[want] == nil {
			t.Errorf("kubernetes: no %s", want)
		}
	}
	so := kinds["ScaledObject/imagegen-worker"]
	trigger := dig(so, "spec", "triggers", 0, "metadata")
	if typ := dig(so, "spec", "triggers", 0, "type"); typ != "nats-jetstream" {
		t.Errorf("ScaledObject trigger type %v, want nats-jetstream", typ)
	}
	if got := dig(trigger, "stream"); got != StreamName {
		t.Errorf("ScaledObject stream %v, want %s", got, StreamName)
	}
	if got := dig(trigger, "consumer"); got != ConsumerName {
		t.Errorf("ScaledObject consumer %v, want %s", got, ConsumerName)
	}
	if got := dig(so, "spec", "scaleTargetRef", "name"); got != "imagegen-worker" {
		t.Errorf("ScaledObject scales %v, want imagegen-worker", got)
	}
	endpoint, _ := dig(trigger, "natsServerMonitoringEndpoint").(string)
	natsHost, _, _ := strings.Cut(endpoint, ":")
	for _, dep := range []string{"imagegen-serve", "imagegen-worker"} {
		args := strs(dig(kinds["Deployment/"+dep], "spec", "template", "spec", "containers", 0, "args"))
		if !slices.Contains(args, "--queue=nats://"+natsHost+":4222") {
			t.Errorf("%s args %v: want --queue=nats://%s:4222, the server KEDA watches", dep, args, natsHost)
		}
	}

	for _, unit := range []string{"systemd/imagegen-serve.service", "systemd/imagegen-worker@.service"} {
		b, err := os.ReadFile(filepath.Join(deployDir, unit))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("--queue nats://127.0.0.1:4222")) || !bytes.Contains(b, []byte("\nExecStart=/usr/local/bin/imagegen ")) {
			t.Errorf("%s: ExecStart does not run imagegen with --queue nats://127.0.0.1:4222", unit)
		}
	}
}
