package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The policy checks: what the API server accepts but this stack must not do. Each has an id
// (the Check of its findings) and a test in policy_test.go that breaks a real overlay to see it
// fail.
var policyChecks = []struct {
	id  string
	doc string
	run func(*Set) []Finding
}{
	{"probes", "every container has startup, readiness and liveness probes; the services' are HTTP on the kit's /health/live and /health/ready", checkProbes},
	{"resources", "every container requests and limits CPU and memory", checkResources},
	{"security", "non-root, no privilege escalation, read-only root filesystem (with a writable /tmp for the services), all capabilities dropped, seccomp RuntimeDefault, no service account token", checkSecurity},
	{"rollout", "Deployments roll with maxUnavailable 0 and a surge, and leave replicas to their HPA", checkRollout},
	{"shutdown", "a preStop delay, and terminationGracePeriodSeconds >= preStop + SHUTDOWN_DRAIN_DELAY + SHUTDOWN_TIMEOUT + 5 s", checkShutdown},
	{"pdb", "every Deployment has exactly one PodDisruptionBudget selecting its pods that allows an eviction", checkPDB},
	{"hpa", "every Deployment has exactly one autoscaling/v2 HPA targeting it, on resources its containers request", checkHPA},
	{"selectors", "selectors select something: workloads their own pods, Services, PDBs, NetworkPolicies and their peers, spread constraints, ServiceMonitors", checkSelectors},
	{"ports", "Service targetPorts, probe ports, PORT, prometheus.io/port, Ingress backends and NetworkPolicy ports match declared container and Service ports", checkPorts},
	{"env", "every environment key of a service is one it reads (or composes another through $(VAR)); every reference, ConfigMap, Secret and key exists", checkEnv},
	{"secrets", "passwords and keys come from Secrets, never literals or ConfigMaps", checkSecrets},
	{"images", "every image has a tag (not latest, not the base's placeholder) or a digest", checkImages},
	{"namespace", "one Namespace, and every namespaced object in it", checkNamespace},
	{"network", "default deny in and out, DNS allowed, and exactly the architecture's connections (k8s/base/network-policies.yaml)", checkNetwork},
	{"db-connections", "the services' pools at full scale fit in PostgreSQL's max_connections", checkDBConnections},
	{"jwt", "the gateway verifies tokens with a secret from a Secret or an identity provider's JWKS, never its public development secret", checkJWT},
}

func finding(check, object, format string, args ...any) Finding {
	return Finding{Check: check, Object: object, Message: fmt.Sprintf(format, args...)}
}

// appContainer returns the container of a service (a Deployment named after a service in the
// env table), or nil.
func appContainer(p *PodSet) *corev1.Container {
	if p.Template == nil || p.Workload == nil || p.Workload.GVK.Kind != "Deployment" {
		return nil
	}
	for i := range p.Template.Spec.Containers {
		c := &p.Template.Spec.Containers[i]
		if c.Name == p.Workload.Name {
			return c
		}
	}
	return nil
}

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var result []*corev1.Container
	for i := range spec.InitContainers {
		result = append(result, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		result = append(result, &spec.Containers[i])
	}
	return result
}

func checkProbes(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		app := appContainer(p)
		for i := range p.Template.Spec.Containers {
			c := &p.Template.Spec.Containers[i]
			where := p.ID + " container " + c.Name
			probes := map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe}
			for _, name := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
				if probes[name] == nil {
					out = append(out, finding("probes", where, "has no %s", name))
				}
			}
			if c != app {
				continue
			}
			wants := map[string][]string{
				"livenessProbe":  {"/health/live"},
				"readinessProbe": {"/health/ready"},
				"startupProbe":   {"/health/live", "/health/ready"},
			}
			for _, name := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
				probe := probes[name]
				if probe == nil {
					continue
				}
				if probe.HTTPGet == nil || !slices.Contains(wants[name], probe.HTTPGet.Path) {
					out = append(out, finding("probes", where, "%s must be an HTTP GET of %s (the kit's endpoint)", name, strings.Join(wants[name], " or ")))
				}
			}
		}
	}
	return out
}

func checkResources(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		for _, c := range allContainers(&p.Template.Spec) {
			for _, kind := range []string{"requests", "limits"} {
				list := c.Resources.Requests
				if kind == "limits" {
					list = c.Resources.Limits
				}
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					if q, ok := list[r]; !ok || q.IsZero() {
						out = append(out, finding("resources", p.ID+" container "+c.Name, "no %s.%s", kind, r))
					}
				}
			}
		}
	}
	return out
}

func checkSecurity(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		spec := &p.Template.Spec
		pod := spec.SecurityContext
		if pod == nil {
			pod = &corev1.PodSecurityContext{}
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			out = append(out, finding("security", p.ID, "automountServiceAccountToken must be false"))
		}
		account := spec.ServiceAccountName
		if sa, ok := s.ServiceAccounts[account]; account == "" || !ok {
			out = append(out, finding("security", p.ID, "serviceAccountName %q: its own ServiceAccount must be in the manifests", account))
		} else if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			out = append(out, finding("security", "ServiceAccount "+sa.Name, "automountServiceAccountToken must be false"))
		}
		app := appContainer(p)
		for _, c := range allContainers(spec) {
			where := p.ID + " container " + c.Name
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			nonRoot := sc.RunAsNonRoot
			if nonRoot == nil {
				nonRoot = pod.RunAsNonRoot
			}
			if nonRoot == nil || !*nonRoot {
				out = append(out, finding("security", where, "runAsNonRoot must be true"))
			}
			user := sc.RunAsUser
			if user == nil {
				user = pod.RunAsUser
			}
			if user != nil && *user == 0 {
				out = append(out, finding("security", where, "runs as uid 0"))
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				out = append(out, finding("security", where, "allowPrivilegeEscalation must be false"))
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				out = append(out, finding("security", where, "readOnlyRootFilesystem must be true"))
			}
			if sc.Privileged != nil && *sc.Privileged {
				out = append(out, finding("security", where, "privileged"))
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				out = append(out, finding("security", where, "capabilities must drop ALL"))
			} else if len(sc.Capabilities.Add) > 0 {
				out = append(out, finding("security", where, "adds capabilities %v", sc.Capabilities.Add))
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = pod.SeccompProfile
			}
			if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
				out = append(out, finding("security", where, "seccompProfile must be RuntimeDefault (pod or container)"))
			}
			if c == app && !hasWritableTmp(spec, c) {
				out = append(out, finding("security", where, "with a read-only root filesystem it needs an emptyDir at /tmp"))
			}
		}
	}
	return out
}

func hasWritableTmp(spec *corev1.PodSpec, c *corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/tmp" || m.ReadOnly {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

func checkRollout(s *Set) []Finding {
	var out []Finding
	for _, d := range s.Deployments {
		where := "Deployment " + d.Name
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil {
			out = append(out, finding("rollout", where, "strategy must be RollingUpdate with rollingUpdate set"))
			continue
		}
		ru := d.Spec.Strategy.RollingUpdate
		if ru.MaxUnavailable == nil || !isZero(*ru.MaxUnavailable) {
			out = append(out, finding("rollout", where, "rollingUpdate.maxUnavailable must be 0 (never fewer ready pods than wanted)"))
		}
		if ru.MaxSurge == nil || isZero(*ru.MaxSurge) {
			out = append(out, finding("rollout", where, "rollingUpdate.maxSurge must be at least 1 (with maxUnavailable 0 the rollout needs it)"))
		}
		if d.Spec.Replicas != nil && len(s.hpaFor(d)) > 0 {
			out = append(out, finding("rollout", where, "sets spec.replicas although an HPA scales it: every apply would reset the count"))
		}
	}
	return out
}

func isZero(v intstr.IntOrString) bool {
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	return strings.TrimSuffix(v.StrVal, "%") == "0"
}

// preStopSeconds returns how long a preStop hook delays SIGTERM, when it can tell.
func preStopSeconds(c *corev1.Container) (int64, bool) {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return 0, false
	}
	h := c.Lifecycle.PreStop
	if h.Sleep != nil {
		return h.Sleep.Seconds, true
	}
	if h.Exec != nil {
		cmd := strings.Join(h.Exec.Command, " ")
		if m := regexp.MustCompile(`(?:^|\s)sleep\s+(\d+)\s*$`).FindStringSubmatch(cmd); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n, true
		}
	}
	return 0, false
}

func checkShutdown(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		c := appContainer(p)
		if c == nil {
			continue
		}
		where := p.ID + " container " + c.Name
		preStop, ok := preStopSeconds(c)
		if !ok {
			out = append(out, finding("shutdown", where, "needs a preStop sleep (lifecycle.preStop.sleep), so endpoint removal propagates before SIGTERM"))
			continue
		}
		vars, _ := s.resolveEnv(c)
		seconds := func(name string, fallback float64) float64 {
			value, ok := envValue(vars, name)
			if !ok {
				return fallback
			}
			d, err := effectDuration(value)
			if err != nil {
				out = append(out, finding("shutdown", where, "%s: %v", name, err))
				return fallback
			}
			return d.Seconds()
		}
		drain := seconds("SHUTDOWN_DRAIN_DELAY", 5)
		timeout := seconds("SHUTDOWN_TIMEOUT", 20)
		grace := int64(30)
		if p.Template.Spec.TerminationGracePeriodSeconds != nil {
			grace = *p.Template.Spec.TerminationGracePeriodSeconds
		}
		need := float64(preStop) + drain + timeout + 5
		if float64(grace) < need {
			out = append(out, finding("shutdown", where, "terminationGracePeriodSeconds %d < preStop %d + SHUTDOWN_DRAIN_DELAY %g + SHUTDOWN_TIMEOUT %g + 5 margin = %g: the kubelet would kill in-flight requests",
				grace, preStop, drain, timeout, need))
		}
	}
	return out
}

func checkPDB(s *Set) []Finding {
	var out []Finding
	for _, d := range s.Deployments {
		where := "Deployment " + d.Name
		var matching []int
		for i, pdb := range s.PDBs {
			if pdb.Namespace == d.Namespace && selects(pdb.Spec.Selector, d.Spec.Template.Labels) {
				matching = append(matching, i)
			}
		}
		if len(matching) != 1 {
			out = append(out, finding("pdb", where, "%d PodDisruptionBudgets select its pods; it needs exactly one", len(matching)))
			continue
		}
		pdb := s.PDBs[matching[0]]
		minReplicas := int32(1)
		if h := s.hpaFor(d); len(h) == 1 && h[0].Spec.MinReplicas != nil {
			minReplicas = *h[0].Spec.MinReplicas
		}
		switch {
		case pdb.Spec.MaxUnavailable != nil:
			if isZero(*pdb.Spec.MaxUnavailable) {
				out = append(out, finding("pdb", "PodDisruptionBudget "+pdb.Name, "maxUnavailable 0 blocks every drain"))
			}
		case pdb.Spec.MinAvailable != nil:
			v, _ := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(minReplicas), true)
			if int32(v) >= minReplicas {
				out = append(out, finding("pdb", "PodDisruptionBudget "+pdb.Name, "minAvailable %s >= minReplicas %d blocks every drain", pdb.Spec.MinAvailable.String(), minReplicas))
			}
		}
	}
	return out
}

func checkHPA(s *Set) []Finding {
	var out []Finding
	for _, d := range s.Deployments {
		where := "Deployment " + d.Name
		hpas := s.hpaFor(d)
		if len(hpas) != 1 {
			out = append(out, finding("hpa", where, "%d HorizontalPodAutoscalers (autoscaling/v2, scaleTargetRef apps/v1 Deployment %s) target it; it needs exactly one", len(hpas), d.Name))
			continue
		}
		for _, m := range hpas[0].Spec.Metrics {
			if m.Resource == nil {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
					out = append(out, finding("hpa", where, "scales on %s but container %s requests none", m.Resource.Name, c.Name))
				}
			}
		}
	}
	for _, h := range s.HPAs {
		if len(h.Spec.Metrics) == 0 {
			out = append(out, finding("hpa", "HorizontalPodAutoscaler "+h.Name, "no metrics"))
		}
		found := false
		for _, d := range s.Deployments {
			found = found || slices.Contains(s.hpaFor(d), h)
		}
		if !found {
			out = append(out, finding("hpa", "HorizontalPodAutoscaler "+h.Name, "targets %s %s %q, which is not a Deployment in the manifests", h.Spec.ScaleTargetRef.APIVersion, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name))
		}
	}
	return out
}

func checkSelectors(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		switch w := p.Workload.Typed.(type) {
		case *appsv1.Deployment:
			if !selects(w.Spec.Selector, p.Labels) {
				out = append(out, finding("selectors", p.ID, "its selector does not select its own pod template"))
			}
		case *appsv1.StatefulSet:
			if !selects(w.Spec.Selector, p.Labels) {
				out = append(out, finding("selectors", p.ID, "its selector does not select its own pod template"))
			}
		}
		for i, t := range p.Template.Spec.TopologySpreadConstraints {
			if !selects(t.LabelSelector, p.Labels) {
				out = append(out, finding("selectors", p.ID, "topologySpreadConstraints[%d] does not select its own pods: it spreads nothing", i))
			}
		}
	}
	for _, svc := range s.Services {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		if len(svc.Spec.Selector) == 0 {
			out = append(out, finding("selectors", "Service "+svc.Name, "has no selector"))
			continue
		}
		if len(s.podsSelected(svc.Namespace, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector})) == 0 {
			out = append(out, finding("selectors", "Service "+svc.Name, "selector %v selects no pods", svc.Spec.Selector))
		}
	}
	for _, pdb := range s.PDBs {
		if len(s.podsSelected(pdb.Namespace, pdb.Spec.Selector)) == 0 {
			out = append(out, finding("selectors", "PodDisruptionBudget "+pdb.Name, "selects no pods"))
		}
	}
	for _, np := range s.NetworkPolicies {
		where := "NetworkPolicy " + np.Name
		if len(s.podsSelected(np.Namespace, &np.Spec.PodSelector)) == 0 {
			out = append(out, finding("selectors", where, "podSelector selects no pods"))
		}
		check := func(direction string, i int, peers []networkingv1.NetworkPolicyPeer) {
			for j, peer := range peers {
				if peer.PodSelector != nil && peer.NamespaceSelector == nil && peer.IPBlock == nil &&
					len(s.podsSelected(np.Namespace, peer.PodSelector)) == 0 {
					out = append(out, finding("selectors", where, "%s[%d] peer %d selects no pods", direction, i, j))
				}
			}
		}
		for i, r := range np.Spec.Ingress {
			check("ingress", i, r.From)
		}
		for i, r := range np.Spec.Egress {
			check("egress", i, r.To)
		}
	}
	for _, sm := range s.ServiceMonitors {
		n := 0
		for _, svc := range s.Services {
			if selects(&sm.Spec.Selector, svc.Labels) {
				n++
			}
		}
		if n == 0 {
			out = append(out, finding("selectors", "ServiceMonitor "+sm.Name, "selects no Services"))
		}
	}
	return out
}

// portMatches reports whether a port reference (number or name) names one of the ports.
func portMatches(ref intstr.IntOrString, ports []corev1.ContainerPort, protocol corev1.Protocol) bool {
	for _, p := range ports {
		if protocol != "" && p.Protocol != protocol {
			continue
		}
		if (ref.Type == intstr.Int && p.ContainerPort == ref.IntVal) || (ref.Type == intstr.String && p.Name == ref.StrVal) {
			return true
		}
	}
	return false
}

// namedPort is the container's port called name, or nil.
func namedPort(c *corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}

// listensOn checks that a declared container port is the one the service listens on: the value
// of variable when the container sets it, else fallback (described by source).
func (s *Set) listensOn(c *corev1.Container, where string, port *corev1.ContainerPort, variable string, fallback int32, source string) []Finding {
	var out []Finding
	vars, _ := s.resolveEnv(c)
	want := fallback
	if value, ok := envValue(vars, variable); ok {
		n, err := strconv.Atoi(value)
		if err != nil {
			out = append(out, finding("ports", where, "%s %q is not a number", variable, value))
		}
		want, source = int32(n), variable
	}
	if port.ContainerPort != want {
		out = append(out, finding("ports", where, "containerPort %s is %d but the service listens on %d (%s)", port.Name, port.ContainerPort, want, source))
	}
	return out
}

func checkPorts(s *Set) []Finding {
	var out []Finding
	for _, svc := range s.Services {
		pods := s.podsSelected(svc.Namespace, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
		for _, sp := range svc.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 || target.Type == intstr.String && target.StrVal == "" {
				target = intstr.FromInt32(sp.Port)
			}
			protocol := sp.Protocol
			if protocol == "" {
				protocol = corev1.ProtocolTCP
			}
			for _, p := range pods {
				if !portMatches(target, p.Ports, protocol) {
					out = append(out, finding("ports", "Service "+svc.Name, "port %q targets %s, which %s does not declare", sp.Name, target.String(), p.ID))
				}
			}
		}
	}
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		for i := range p.Template.Spec.Containers {
			c := &p.Template.Spec.Containers[i]
			where := p.ID + " container " + c.Name
			for name, probe := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
				if probe == nil {
					continue
				}
				var port *intstr.IntOrString
				if probe.HTTPGet != nil {
					port = &probe.HTTPGet.Port
				} else if probe.TCPSocket != nil {
					port = &probe.TCPSocket.Port
				}
				if port != nil && !portMatches(*port, containerPorts(&corev1.PodSpec{Containers: []corev1.Container{*c}}), "") {
					out = append(out, finding("ports", where, "%s probes port %s, which the container does not declare", name, port.String()))
				}
			}
		}
		if c := appContainer(p); c != nil {
			where := p.ID + " container " + c.Name
			http := namedPort(c, "http")
			if http == nil {
				out = append(out, finding("ports", where, "declares no port named http"))
			} else {
				out = append(out, s.listensOn(c, where, http, "PORT", defaultPorts[c.Name], "the service's default port")...)
			}
			// The admin port (/metrics, profiles): ADMIN_PORT, by default PORT + 1000. Prometheus
			// scrapes it and nothing else; /metrics is not on the public port.
			admin := namedPort(c, "admin")
			if admin == nil {
				out = append(out, finding("ports", where, "declares no port named admin"))
			} else if http != nil {
				out = append(out, s.listensOn(c, where, admin, "ADMIN_PORT", http.ContainerPort+1000, "PORT + 1000")...)
			}
			if annotated, ok := p.Template.Annotations["prometheus.io/port"]; ok {
				n, _ := strconv.Atoi(annotated)
				if !portMatches(intstr.FromInt(n), c.Ports, "") {
					out = append(out, finding("ports", where, "prometheus.io/port %s is not a container port", annotated))
				} else if admin != nil && int32(n) != admin.ContainerPort {
					out = append(out, finding("ports", where, "prometheus.io/port %s is not the admin port %d (/metrics is only there)", annotated, admin.ContainerPort))
				}
			}
		}
	}
	for _, ing := range s.Ingresses {
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, path := range rule.HTTP.Paths {
				backend := path.Backend.Service
				if backend == nil {
					continue
				}
				var svc *corev1.Service
				for _, candidate := range s.Services {
					if candidate.Name == backend.Name && candidate.Namespace == ing.Namespace {
						svc = candidate
					}
				}
				if svc == nil {
					out = append(out, finding("ports", "Ingress "+ing.Name, "backend Service %q is not in the manifests", backend.Name))
					continue
				}
				found := false
				for _, sp := range svc.Spec.Ports {
					found = found || (backend.Port.Name != "" && sp.Name == backend.Port.Name) || (backend.Port.Number != 0 && sp.Port == backend.Port.Number)
				}
				if !found {
					out = append(out, finding("ports", "Ingress "+ing.Name, "backend port %v is not a port of Service %s", backend.Port, svc.Name))
				}
			}
		}
	}
	// NetworkPolicy ports: an ingress rule's ports are the selected pods'; an egress rule's are
	// the destination pods' (when the destination is in the manifests).
	for _, np := range s.NetworkPolicies {
		where := "NetworkPolicy " + np.Name
		own := s.podsSelected(np.Namespace, &np.Spec.PodSelector)
		for i, r := range np.Spec.Ingress {
			for _, port := range r.Ports {
				if port.Port == nil {
					continue
				}
				if !anyPodHasPort(own, *port.Port, protocolOf(port.Protocol)) {
					out = append(out, finding("ports", where, "ingress[%d] allows port %s, which none of its pods declares", i, port.Port.String()))
				}
			}
		}
		for i, r := range np.Spec.Egress {
			var destinations []*PodSet
			inManifests := len(r.To) > 0
			for _, peer := range r.To {
				if peer.PodSelector != nil && peer.NamespaceSelector == nil && peer.IPBlock == nil {
					destinations = append(destinations, s.podsSelected(np.Namespace, peer.PodSelector)...)
				} else {
					inManifests = false // a peer outside the manifests: its ports are unknown
				}
			}
			if !inManifests || len(destinations) == 0 {
				continue
			}
			for _, port := range r.Ports {
				if port.Port != nil && !anyPodHasPort(destinations, *port.Port, protocolOf(port.Protocol)) {
					out = append(out, finding("ports", where, "egress[%d] allows port %s, which none of its destinations declares", i, port.Port.String()))
				}
			}
		}
	}
	for _, sm := range s.ServiceMonitors {
		for _, ep := range sm.Spec.Endpoints {
			found := false
			for _, svc := range s.Services {
				if !selects(&sm.Spec.Selector, svc.Labels) {
					continue
				}
				for _, sp := range svc.Spec.Ports {
					found = found || sp.Name == ep.Port
				}
			}
			if !found {
				out = append(out, finding("ports", "ServiceMonitor "+sm.Name, "endpoint port %q is not a port of the Services it selects", ep.Port))
			}
		}
	}
	return out
}

func protocolOf(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP
	}
	return *p
}

func anyPodHasPort(pods []*PodSet, port intstr.IntOrString, protocol corev1.Protocol) bool {
	for _, p := range pods {
		if portMatches(port, p.Ports, protocol) {
			return true
		}
	}
	return false
}

func checkEnv(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		for _, c := range allContainers(&p.Template.Spec) {
			where := p.ID + " container " + c.Name
			vars, problems := s.resolveEnv(c)
			for _, problem := range problems {
				out = append(out, finding("env", where, "%s", problem))
			}
			for _, v := range vars {
				for _, name := range v.Unresolved {
					out = append(out, finding("env", where, "%s refers to $(%s), which no earlier variable defines (the kubelet would leave it as-is)", v.Name, name))
				}
			}
			if c != appContainer(p) {
				continue
			}
			known := knownEnv(c.Name)
			if known == nil {
				out = append(out, finding("env", where, "no env table for a service named %q (envtable.go)", c.Name))
				continue
			}
			if p.Template.Spec.EnableServiceLinks == nil || *p.Template.Spec.EnableServiceLinks {
				out = append(out, finding("env", where, "enableServiceLinks must be false: otherwise the kubelet adds <SERVICE>_PORT... variables nobody declared"))
			}
			for _, v := range vars {
				if known[v.Name] {
					continue
				}
				referenced := false
				for _, later := range vars[v.Index+1:] {
					referenced = referenced || slices.Contains(later.Refs, v.Name)
				}
				if !referenced {
					out = append(out, finding("env", where, "%s (from %s) is not a setting %s reads (envtable.go) nor used in another variable's $(...)", v.Name, v.Source, c.Name))
				}
			}
		}
		for _, v := range p.Template.Spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				if _, ok := s.ConfigMaps[v.ConfigMap.Name]; !ok {
					out = append(out, finding("env", p.ID, "volume %s: ConfigMap %q is not in the manifests", v.Name, v.ConfigMap.Name))
				}
			case v.Secret != nil:
				sec, ok := s.Secrets[v.Secret.SecretName]
				if !ok && !s.ExternalSecrets[v.Secret.SecretName] {
					out = append(out, finding("env", p.ID, "volume %s: Secret %q is neither in the manifests nor declared as created by the cluster's operator", v.Name, v.Secret.SecretName))
				}
				if ok {
					for _, item := range v.Secret.Items {
						if _, has := sec.Data[item.Key]; !has {
							out = append(out, finding("env", p.ID, "volume %s: Secret %q has no key %q", v.Name, sec.Name, item.Key))
						}
					}
				}
			}
		}
	}
	return out
}

var sensitiveName = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY)`)

func checkSecrets(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		for _, c := range allContainers(&p.Template.Spec) {
			where := p.ID + " container " + c.Name
			vars, _ := s.resolveEnv(c)
			for _, v := range vars {
				if sensitiveName.MatchString(v.Name) && !strings.HasPrefix(v.Source, "secret") {
					out = append(out, finding("secrets", where, "%s comes from %s; it must come from a Secret", v.Name, v.Source))
				}
				if v.Name == "DATABASE_URL" && v.Source != "literal" && !strings.HasPrefix(v.Source, "secret") {
					out = append(out, finding("secrets", where, "DATABASE_URL comes from %s; it must come from a Secret or be composed from one", v.Source))
				}
			}
			for _, e := range c.Env {
				if e.Name != "DATABASE_URL" || e.ValueFrom != nil {
					continue
				}
				// postgres://user:PASSWORD@host: the password part must be a $(VAR) from a Secret.
				m := regexp.MustCompile(`^[a-z]+://[^:/@]*:([^@]*)@`).FindStringSubmatch(e.Value)
				if m == nil {
					continue
				}
				ref := regexp.MustCompile(`^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$`).FindStringSubmatch(m[1])
				if ref == nil {
					out = append(out, finding("secrets", where, "DATABASE_URL has a literal password"))
					continue
				}
				for _, v := range vars {
					if v.Name == ref[1] && !strings.HasPrefix(v.Source, "secret") {
						out = append(out, finding("secrets", where, "DATABASE_URL's password $(%s) comes from %s, not a Secret", ref[1], v.Source))
					}
				}
			}
		}
	}
	for _, name := range sortedKeys(s.ConfigMaps) {
		for key := range s.ConfigMaps[name].Data {
			if sensitiveName.MatchString(key) || key == "DATABASE_URL" {
				out = append(out, finding("secrets", "ConfigMap "+name, "holds %s; secrets belong in Secrets", key))
			}
		}
	}
	return out
}

func checkImages(s *Set) []Finding {
	var out []Finding
	pattern := regexp.MustCompile(`^(?:[^/]+/)*[^/:@]+(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$`)
	for _, p := range s.Pods {
		if p.Template == nil {
			continue
		}
		for _, c := range allContainers(&p.Template.Spec) {
			where := p.ID + " container " + c.Name
			m := pattern.FindStringSubmatch(c.Image)
			switch {
			case m == nil:
				out = append(out, finding("images", where, "image %q is not a valid reference", c.Image))
			case m[2] != "":
			case m[1] == "" || m[1] == "latest":
				out = append(out, finding("images", where, "image %q needs a fixed tag or a digest (not latest)", c.Image))
			case m[1] == "set-by-overlay":
				out = append(out, finding("images", where, "image %q: the overlay's images: must set the tag", c.Image))
			}
		}
	}
	return out
}

func checkNamespace(s *Set) []Finding {
	var out []Finding
	if len(s.Namespaces) != 1 {
		return []Finding{finding("namespace", "(set)", "%d Namespace objects; the stack lives in exactly one", len(s.Namespaces))}
	}
	var namespace string
	for name := range s.Namespaces {
		namespace = name
	}
	for _, o := range s.Objects {
		if o.GVK.Kind == "Namespace" {
			continue
		}
		if o.Namespace != namespace {
			out = append(out, finding("namespace", o.ID(), "must be in namespace %q", namespace))
		}
	}
	return out
}

func checkDBConnections(s *Set) []Finding {
	var out []Finding
	maxConnections, where := 0, ""
	for _, c := range s.Clusters {
		n := 100
		if v, ok := c.Spec.PostgresConfiguration.Parameters["max_connections"]; ok {
			n, _ = strconv.Atoi(v)
		}
		maxConnections, where = maxConnections+n, "Cluster "+c.Name
	}
	for _, ss := range s.StatefulSets {
		if ss.Spec.Template.Labels["app.kubernetes.io/component"] != "database" {
			continue
		}
		n := 100
		for _, c := range ss.Spec.Template.Spec.Containers {
			args := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
			if m := regexp.MustCompile(`max_connections=(\d+)`).FindStringSubmatch(args); m != nil {
				n, _ = strconv.Atoi(m[1])
			}
		}
		maxConnections, where = maxConnections+n, "StatefulSet "+ss.Name
	}
	if where == "" {
		return nil
	}
	total := 0
	var terms []string
	for _, p := range s.Pods {
		c := appContainer(p)
		if c == nil {
			continue
		}
		vars, _ := s.resolveEnv(c)
		if _, ok := envValue(vars, "DATABASE_URL"); !ok {
			continue
		}
		pool := 10
		if v, ok := envValue(vars, "DB_POOL_MAX"); ok {
			pool, _ = strconv.Atoi(v)
		}
		d := p.Workload.Typed.(*appsv1.Deployment)
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		}
		if h := s.hpaFor(d); len(h) == 1 {
			replicas = int(h[0].Spec.MaxReplicas)
		}
		surge := 1
		if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
			surge, _ = intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, replicas, true)
		}
		total += (replicas + surge) * pool
		terms = append(terms, fmt.Sprintf("%s (%d+%d) x %d", d.Name, replicas, surge, pool))
	}
	const reserved = 10 // superuser_reserved_connections, the operator's and monitoring's own
	if total > maxConnections-reserved {
		out = append(out, finding("db-connections", where, "the pools at full scale need %s = %d connections, more than max_connections %d - %d reserved",
			strings.Join(terms, " + "), total, maxConnections, reserved))
	}
	return out
}

func checkJWT(s *Set) []Finding {
	var out []Finding
	for _, p := range s.Pods {
		c := appContainer(p)
		if c == nil || c.Name != "gateway" {
			continue
		}
		vars, _ := s.resolveEnv(c)
		_, jwks := envValue(vars, "JWT_JWKS_URL")
		secretFromSecret := false
		for _, v := range vars {
			secretFromSecret = secretFromSecret || (v.Name == "JWT_SECRET" && strings.HasPrefix(v.Source, "secret"))
		}
		if !jwks && !secretFromSecret {
			out = append(out, finding("jwt", p.ID, "neither JWT_JWKS_URL nor JWT_SECRET (from a Secret) is set: the gateway would accept tokens signed with the development secret published in its source"))
		}
	}
	return out
}
