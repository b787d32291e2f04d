package main

// Every check is shown failing on a broken manifest, then passing: each case below renders a
// real overlay (kustomize, the binary check.sh installs), breaks it in one way, and expects a
// finding of one check. The unbroken overlays must have no finding at all.
//
//	go test -v ./...     (KUSTOMIZE=path/to/kustomize, or the one check.sh caches)

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

var externalSecrets = []string{"order-db-credentials", "inventory-db-credentials", "payment-db-credentials", "gateway-tls"}

func kustomizeBinary(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("KUSTOMIZE")}
	if cache := os.Getenv("K8S_CHECK_CACHE"); cache != "" {
		candidates = append(candidates, filepath.Join(cache, "bin", "kustomize"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "acme-k8s-check", "bin", "kustomize"))
	}
	for _, c := range candidates {
		if c != "" {
			if _, err := os.Stat(c); err == nil {
				return c
			}
		}
	}
	if path, err := exec.LookPath("kustomize"); err == nil {
		return path
	}
	t.Fatal("no kustomize: run bash k8s/check.sh once (it installs the pinned one), or set KUSTOMIZE")
	return ""
}

var (
	renderMu sync.Mutex
	rendered = map[string][]byte{}
	crdOnce  sync.Once
	crdReg   *CRDRegistry
	crdErr   error
)

func render(t *testing.T, overlay string) []byte {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if out, ok := rendered[overlay]; ok {
		return out
	}
	out, err := exec.Command(kustomizeBinary(t), "build", filepath.Join("..", overlay)).Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlay, err)
	}
	rendered[overlay] = out
	return out
}

func registry(t *testing.T) *CRDRegistry {
	t.Helper()
	crdOnce.Do(func() { crdReg, crdErr = LoadCRDs() })
	if crdErr != nil {
		t.Fatal(crdErr)
	}
	return crdReg
}

// docs is a rendered overlay as generic objects, to be broken by a test case.
type docs []map[string]any

func parse(t *testing.T, data []byte) docs {
	t.Helper()
	parts, err := splitDocuments(data)
	if err != nil {
		t.Fatal(err)
	}
	var result docs
	for _, p := range parts {
		var m map[string]any
		if err := yaml.Unmarshal(p, &m); err != nil {
			t.Fatal(err)
		}
		result = append(result, m)
	}
	return result
}

func (d docs) yaml(t *testing.T) []byte {
	var out strings.Builder
	for _, m := range d {
		data, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return []byte(out.String())
}

// find returns the object of a kind whose name starts with name (generated names have a hash).
func (d docs) find(t *testing.T, kind, name string) map[string]any {
	t.Helper()
	for _, m := range d {
		meta, _ := m["metadata"].(map[string]any)
		if m["kind"] == kind && meta != nil && strings.HasPrefix(fmt.Sprint(meta["name"]), name) {
			return m
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

func (d docs) remove(t *testing.T, kind, name string) docs {
	target := d.find(t, kind, name)
	return slices.DeleteFunc(d, func(m map[string]any) bool { return fmt.Sprint(m) == fmt.Sprint(target) })
}

// at walks a path of map keys and list indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

func container(t *testing.T, d docs, deployment string) map[string]any {
	return at(t, d.find(t, "Deployment", deployment), "spec", "template", "spec", "containers", 0).(map[string]any)
}

type brokenCase struct {
	check   string
	overlay string
	what    string
	breakIt func(t *testing.T, d docs) docs
	// text, when set, breaks the rendered text instead.
	text func(string) string
}

var cases = []brokenCase{
	{"decode", "overlays/local", "a duplicate key", nil, func(s string) string {
		return s + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  namespace: acme-shop\ndata:\n  A: x\n  A: y\n"
	}},
	{"kind", "overlays/local", "a kind nobody validates", func(t *testing.T, d docs) docs {
		return append(d, map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w", "namespace": "acme-shop"}})
	}, nil},
	{"schema", "overlays/local", "an unknown field in a container (a typo)", func(t *testing.T, d docs) docs {
		container(t, d, "order")["imagePullPolicyy"] = "Always"
		return d
	}, nil},
	{"api-validation", "overlays/production", "an HPA with minReplicas above maxReplicas", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "HorizontalPodAutoscaler", "payment"), "spec").(map[string]any)["minReplicas"] = 20
		return d
	}, nil},
	{"api-validation", "overlays/local", "a Service port name that is not a DNS label", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Service", "order"), "spec", "ports", 0).(map[string]any)["name"] = "HTTP_PORT"
		return d
	}, nil},
	{"pod-security", "overlays/local", "a pod on the host network", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Deployment", "payment"), "spec", "template", "spec").(map[string]any)["hostNetwork"] = true
		return d
	}, nil},
	{"crd-schema", "overlays/production", "an unknown field in the CloudNativePG Cluster", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Cluster", "shop-db"), "spec").(map[string]any)["instancez"] = 3
		return d
	}, nil},
	{"crd-schema", "overlays/production", "a Cluster breaking a CEL rule of the CRD (icuLocale without the icu provider)", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Cluster", "shop-db"), "spec", "bootstrap", "initdb").(map[string]any)["icuLocale"] = "en-US"
		return d
	}, nil},
	{"crd-schema", "overlays/production", "a Database without its owner (required by the schema)", func(t *testing.T, d docs) docs {
		delete(at(t, d.find(t, "Database", "acme-order"), "spec").(map[string]any), "owner")
		return d
	}, nil},
	{"probes", "overlays/local", "order without a readiness probe", func(t *testing.T, d docs) docs {
		delete(container(t, d, "order"), "readinessProbe")
		return d
	}, nil},
	{"probes", "overlays/production", "a liveness probe on /health/ready (a database outage would restart every pod)", func(t *testing.T, d docs) docs {
		at(t, container(t, d, "inventory"), "livenessProbe", "httpGet").(map[string]any)["path"] = "/health/ready"
		return d
	}, nil},
	{"resources", "overlays/local", "payment without a memory limit", func(t *testing.T, d docs) docs {
		delete(at(t, container(t, d, "payment"), "resources", "limits").(map[string]any), "memory")
		return d
	}, nil},
	{"security", "overlays/local", "a writable root filesystem", func(t *testing.T, d docs) docs {
		at(t, container(t, d, "gateway"), "securityContext").(map[string]any)["readOnlyRootFilesystem"] = false
		return d
	}, nil},
	{"security", "overlays/production", "a mounted service account token", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Deployment", "order"), "spec", "template", "spec").(map[string]any)["automountServiceAccountToken"] = true
		return d
	}, nil},
	{"rollout", "overlays/production", "maxUnavailable 1", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Deployment", "inventory"), "spec", "strategy", "rollingUpdate").(map[string]any)["maxUnavailable"] = 1
		return d
	}, nil},
	{"rollout", "overlays/production", "replicas set next to an HPA", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Deployment", "gateway"), "spec").(map[string]any)["replicas"] = 3
		return d
	}, nil},
	{"shutdown", "overlays/production", "a grace period shorter than preStop + drain + timeout", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Deployment", "order"), "spec", "template", "spec").(map[string]any)["terminationGracePeriodSeconds"] = 20
		return d
	}, nil},
	{"shutdown", "overlays/local", "a longer SHUTDOWN_TIMEOUT without a longer grace period", func(t *testing.T, d docs) docs {
		d.find(t, "ConfigMap", "kit-config")["data"].(map[string]any)["SHUTDOWN_TIMEOUT"] = "60 seconds"
		return d
	}, nil},
	{"shutdown", "overlays/local", "no preStop hook", func(t *testing.T, d docs) docs {
		delete(container(t, d, "inventory"), "lifecycle")
		return d
	}, nil},
	{"pdb", "overlays/production", "inventory without a PodDisruptionBudget", func(t *testing.T, d docs) docs {
		return d.remove(t, "PodDisruptionBudget", "inventory")
	}, nil},
	{"pdb", "overlays/production", "a PodDisruptionBudget that blocks every drain", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "PodDisruptionBudget", "order"), "spec").(map[string]any)["maxUnavailable"] = 0
		return d
	}, nil},
	{"hpa", "overlays/local", "an HPA targeting a misspelt Deployment", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "HorizontalPodAutoscaler", "gateway"), "spec", "scaleTargetRef").(map[string]any)["name"] = "gatway"
		return d
	}, nil},
	{"selectors", "overlays/local", "a Service selecting no pods", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Service", "payment"), "spec").(map[string]any)["selector"] = map[string]any{"app.kubernetes.io/name": "paymnet"}
		return d
	}, nil},
	{"selectors", "overlays/production", "a NetworkPolicy peer selecting no pods", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "NetworkPolicy", "payment"), "spec", "ingress", 0, "from", 0, "podSelector", "matchLabels").(map[string]any)["app.kubernetes.io/name"] = "ordr"
		return d
	}, nil},
	{"ports", "overlays/local", "a Service targeting a port no container declares", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Service", "inventory"), "spec", "ports", 0).(map[string]any)["targetPort"] = "metrics"
		return d
	}, nil},
	{"ports", "overlays/local", "Prometheus told to scrape the public port", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "Deployment", "gateway"), "spec", "template", "metadata", "annotations").(map[string]any)["prometheus.io/port"] = "8080"
		return d
	}, nil},
	{"ports", "overlays/production", "PORT and the container port disagree", func(t *testing.T, d docs) docs {
		d.find(t, "ConfigMap", "order-config")["data"].(map[string]any)["PORT"] = "9000"
		return d
	}, nil},
	{"env", "overlays/local", "a misspelt setting", func(t *testing.T, d docs) docs {
		c := container(t, d, "order")
		c["env"] = append(c["env"].([]any), map[string]any{"name": "INVENTORY_ULR", "value": "http://inventory:8082"})
		return d
	}, nil},
	{"env", "overlays/production", "a $(VAR) reference to nothing", func(t *testing.T, d docs) docs {
		env := container(t, d, "payment")["env"].([]any)
		url := env[len(env)-1].(map[string]any)
		url["value"] = strings.Replace(url["value"].(string), "$(DATABASE_HOST)", "$(DATABASE_HOSTNAME)", 1)
		return d
	}, nil},
	{"env", "overlays/production", "a Secret nobody creates", func(t *testing.T, d docs) docs {
		env := container(t, d, "inventory")["env"].([]any)
		at(t, env[0], "valueFrom", "secretKeyRef").(map[string]any)["name"] = "inventory-credentials"
		return d
	}, nil},
	{"secrets", "overlays/local", "a password in a ConfigMap", func(t *testing.T, d docs) docs {
		d.find(t, "ConfigMap", "database-config")["data"].(map[string]any)["DATABASE_PASSWORD"] = "hunter2"
		return d
	}, nil},
	{"images", "overlays/production", "an image without its tag from the overlay", func(t *testing.T, d docs) docs {
		container(t, d, "payment")["image"] = "ghcr.io/acme/payment:set-by-overlay"
		return d
	}, nil},
	{"images", "overlays/local", "latest", func(t *testing.T, d docs) docs {
		container(t, d, "gateway")["image"] = "acme/gateway:latest"
		return d
	}, nil},
	{"namespace", "overlays/local", "an object in another namespace", func(t *testing.T, d docs) docs {
		d.find(t, "ConfigMap", "postgres-init")["metadata"].(map[string]any)["namespace"] = "default"
		return d
	}, nil},
	{"network", "overlays/production", "no default deny", func(t *testing.T, d docs) docs {
		return d.remove(t, "NetworkPolicy", "default-deny")
	}, nil},
	{"network", "overlays/local", "payment open to every pod (an ingress rule without from)", func(t *testing.T, d docs) docs {
		delete(at(t, d.find(t, "NetworkPolicy", "payment"), "spec", "ingress", 0).(map[string]any), "from")
		return d
	}, nil},
	{"network", "overlays/production", "the gateway allowed to reach payment (both policies opened)", func(t *testing.T, d docs) docs {
		spec := at(t, d.find(t, "NetworkPolicy", "gateway"), "spec").(map[string]any)
		spec["egress"] = append(spec["egress"].([]any), map[string]any{
			"to":    []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "payment"}}}},
			"ports": []any{map[string]any{"protocol": "TCP", "port": 8083}},
		})
		from := at(t, d.find(t, "NetworkPolicy", "payment"), "spec", "ingress", 0).(map[string]any)
		from["from"] = append(from["from"].([]any), map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "gateway"}}})
		return d
	}, nil},
	{"network", "overlays/local", "order cut off from inventory", func(t *testing.T, d docs) docs {
		ingress := at(t, d.find(t, "NetworkPolicy", "inventory"), "spec", "ingress", 0).(map[string]any)
		ingress["from"] = ingress["from"].([]any)[:1]
		return d
	}, nil},
	{"db-connections", "overlays/local", "more pods than PostgreSQL has connections for", func(t *testing.T, d docs) docs {
		at(t, d.find(t, "HorizontalPodAutoscaler", "order"), "spec").(map[string]any)["maxReplicas"] = 20
		return d
	}, nil},
	{"jwt", "overlays/local", "a gateway without JWT_SECRET or JWKS (the development secret)", func(t *testing.T, d docs) docs {
		delete(container(t, d, "gateway"), "env")
		return d
	}, nil},
}

func TestOverlaysPass(t *testing.T) {
	for _, overlay := range []string{"overlays/local", "overlays/production"} {
		t.Run(overlay, func(t *testing.T) {
			findings, objects := Validate(render(t, overlay), registry(t), Options{ExternalSecrets: externalSecrets})
			for _, f := range findings {
				t.Error(f)
			}
			t.Logf("%d objects, no findings", objects)
		})
	}
}

func TestEachCheckCatchesABrokenManifest(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range cases {
		t.Run(c.check+"/"+strings.ReplaceAll(c.what, " ", "_"), func(t *testing.T) {
			var broken []byte
			if c.text != nil {
				broken = []byte(c.text(string(render(t, c.overlay))))
			} else {
				broken = c.breakIt(t, parse(t, render(t, c.overlay))).yaml(t)
			}
			findings, _ := Validate(broken, registry(t), Options{ExternalSecrets: externalSecrets})
			caught := false
			for _, f := range findings {
				if f.Check == c.check {
					caught = true
					t.Logf("caught: %s", f)
				}
			}
			if !caught {
				t.Errorf("%s (%s): no %q finding; got %v", c.what, c.overlay, c.check, findings)
			}
			covered[c.check] = true
		})
	}
	for _, check := range policyChecks {
		if !covered[check.id] {
			t.Errorf("policy check %q has no broken-manifest case", check.id)
		}
	}
	for _, check := range []string{"decode", "kind", "schema", "api-validation", "pod-security", "crd-schema"} {
		if !covered[check] {
			t.Errorf("check %q has no broken-manifest case", check)
		}
	}
}

func TestGitOpsApplication(t *testing.T) {
	data, err := os.ReadFile("../gitops/application.yaml")
	if err != nil {
		t.Fatal(err)
	}
	findings, _ := Validate(data, registry(t), Options{SchemaOnly: true})
	for _, f := range findings {
		t.Error(f)
	}
	broken := strings.Replace(string(data), "  destination:", "  destinaton:", 1)
	findings, _ = Validate([]byte(broken), registry(t), Options{SchemaOnly: true})
	if len(findings) == 0 {
		t.Error("a misspelt destination was not caught")
	}
	for _, f := range findings {
		t.Logf("caught: %s", f)
	}
}

func TestServiceMonitorComponent(t *testing.T) {
	// The optional component, added to production (testdata/production-monitoring).
	out := render(t, "validate/testdata/production-monitoring")
	findings, _ := Validate(out, registry(t), Options{ExternalSecrets: externalSecrets})
	for _, f := range findings {
		t.Error(f)
	}
	d := parse(t, out)
	at(t, d.find(t, "ServiceMonitor", "acme-shop"), "spec", "endpoints", 0).(map[string]any)["port"] = "metrics"
	findings, _ = Validate(d.yaml(t), registry(t), Options{ExternalSecrets: externalSecrets})
	caught := false
	for _, f := range findings {
		caught = caught || f.Check == "ports"
		t.Logf("caught: %s", f)
	}
	if !caught {
		t.Error("a ServiceMonitor on a port no Service has was not caught")
	}
}

func TestEnvTableMatchesSource(t *testing.T) {
	errs, warnings := checkEnvTable("../..")
	for _, e := range errs {
		t.Error(e)
	}
	for _, w := range warnings {
		t.Log("warning:", w)
	}
	// And it notices a stale entry.
	groups := serviceEnv["payment"]
	serviceEnv["payment"] = append(slices.Clone(groups), envGroup{[]string{"apps/payment/src"}, []string{"PAYMENT_PROCESSOR_URL"}})
	defer func() { serviceEnv["payment"] = groups }()
	errs, _ = checkEnvTable("../..")
	if len(errs) != 1 {
		t.Errorf("a name the source does not read: want 1 error, got %v", errs)
	} else {
		t.Logf("caught: %s", errs[0])
	}
}
