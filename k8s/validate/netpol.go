package main

import (
	"fmt"
	"net"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The network the NetworkPolicies must allow, and nothing more. Pods are named by role: a
// service's app.kubernetes.io/name, "database" for app.kubernetes.io/component=database, and
// the pods outside the namespace the policies name (they are modelled with the labels of
// their usual installations; see k8s/base/network-policies.yaml).
type edge struct {
	from, to string
	port     int32
	protocol corev1.Protocol
}

var architecture = []edge{
	{"ingress-controller", "gateway", 8080, "TCP"},
	{"gateway", "order", 8081, "TCP"},
	{"gateway", "inventory", 8082, "TCP"},
	{"gateway", "redis", 6379, "TCP"},
	{"order", "inventory", 8082, "TCP"},
	{"order", "payment", 8083, "TCP"},
	{"order", "database", 5432, "TCP"},
	{"inventory", "database", 5432, "TCP"},
	{"payment", "database", 5432, "TCP"},
	{"prometheus", "gateway", 9080, "TCP"},
	{"prometheus", "order", 9081, "TCP"},
	{"prometheus", "inventory", 9082, "TCP"},
	{"prometheus", "payment", 9083, "TCP"},
}

// Allowed but not required: what an operator-managed database and production need besides the
// architecture (CloudNativePG replication and management, its metrics, the Kubernetes API; the
// gateway's identity provider).
var infrastructure = []edge{
	{"database", "database", 5432, "TCP"},
	{"database", "database", 8000, "TCP"},
	{"cnpg-operator", "database", 5432, "TCP"},
	{"cnpg-operator", "database", 8000, "TCP"},
	{"prometheus", "database", 9187, "TCP"},
	// The instance manager talks to the Kubernetes API, whose address has no labels: the policy
	// names it by address block on 443/6443, which also covers any other pod on those ports.
	{"database", "*", 443, "TCP"},
	{"database", "*", 6443, "TCP"},
	{"gateway", "internet", 443, "TCP"},
}

// Every pod of the namespace must reach DNS.
var dnsEdges = []edge{{"*", "kube-dns", 53, "UDP"}, {"*", "kube-dns", 53, "TCP"}}

// netPod is a pod in the model: one of the namespace's pod sets, or an outside one.
type netPod struct {
	role      string
	namespace string
	nsLabels  map[string]string
	labels    map[string]string
	ports     []corev1.ContainerPort
	ip        net.IP
	internal  bool
}

func externalPods() []*netPod {
	ns := func(name string) map[string]string { return map[string]string{"kubernetes.io/metadata.name": name} }
	tcp := func(ports ...int32) []corev1.ContainerPort {
		var result []corev1.ContainerPort
		for _, p := range ports {
			result = append(result, corev1.ContainerPort{ContainerPort: p, Protocol: "TCP"})
		}
		return result
	}
	return []*netPod{
		{role: "ingress-controller", namespace: "ingress-nginx", nsLabels: ns("ingress-nginx"), labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}, ports: tcp(80, 443), ip: net.ParseIP("10.244.9.1")},
		{role: "prometheus", namespace: "monitoring", nsLabels: ns("monitoring"), labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, ports: tcp(9090), ip: net.ParseIP("10.244.9.2")},
		{role: "kube-dns", namespace: "kube-system", nsLabels: ns("kube-system"), labels: map[string]string{"k8s-app": "kube-dns"},
			ports: []corev1.ContainerPort{{ContainerPort: 53, Protocol: "UDP"}, {ContainerPort: 53, Protocol: "TCP"}}, ip: net.ParseIP("10.244.9.3")},
		{role: "cnpg-operator", namespace: "cnpg-system", nsLabels: ns("cnpg-system"), labels: map[string]string{"app.kubernetes.io/name": "cloudnative-pg"}, ports: tcp(9443), ip: net.ParseIP("10.244.9.4")},
		{role: "other-namespace", namespace: "default", nsLabels: ns("default"), labels: map[string]string{"app": "anything"}, ports: tcp(80, 443, 5432, 8080, 8081, 8082, 8083), ip: net.ParseIP("10.244.9.5")},
		{role: "internet", ports: tcp(80, 443, 5432, 6443, 8080), ip: net.ParseIP("203.0.113.7")},
	}
}

func peerMatches(peer networkingv1.NetworkPolicyPeer, policyNamespace string, pod *netPod) bool {
	if peer.IPBlock != nil {
		_, cidr, err := net.ParseCIDR(peer.IPBlock.CIDR)
		if err != nil || !cidr.Contains(pod.ip) {
			return false
		}
		for _, except := range peer.IPBlock.Except {
			if _, e, err := net.ParseCIDR(except); err == nil && e.Contains(pod.ip) {
				return false
			}
		}
		return true
	}
	if pod.namespace == "" {
		return false // outside the cluster: only an ipBlock can name it
	}
	if peer.NamespaceSelector != nil {
		if !selects(peer.NamespaceSelector, pod.nsLabels) {
			return false
		}
	} else if pod.namespace != policyNamespace {
		return false
	}
	if peer.PodSelector != nil {
		return selects(peer.PodSelector, pod.labels)
	}
	return true
}

func portAllowed(ports []networkingv1.NetworkPolicyPort, dst *netPod, port int32, protocol corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if protocolOf(p.Protocol) != protocol {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String {
			for _, cp := range dst.ports {
				if cp.Name == p.Port.StrVal && cp.ContainerPort == port && cp.Protocol == protocol {
					return true
				}
			}
			continue
		}
		end := p.Port.IntVal
		if p.EndPort != nil {
			end = *p.EndPort
		}
		if port >= p.Port.IntVal && port <= end {
			return true
		}
	}
	return false
}

// allowed evaluates the namespace's policies for one connection, as a CNI does: the source's
// egress (if it is in the namespace) and the destination's ingress (likewise) must both allow it.
func allowed(policies []*networkingv1.NetworkPolicy, src, dst *netPod, port int32, protocol corev1.Protocol) bool {
	direction := func(pod *netPod, egress bool) bool {
		isolated, ok := false, false
		for _, np := range policies {
			if np.Namespace != pod.namespace || !selects(&np.Spec.PodSelector, pod.labels) {
				continue
			}
			types := np.Spec.PolicyTypes
			if len(types) == 0 {
				types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
				if len(np.Spec.Egress) > 0 {
					types = append(types, networkingv1.PolicyTypeEgress)
				}
			}
			want := networkingv1.PolicyTypeIngress
			if egress {
				want = networkingv1.PolicyTypeEgress
			}
			applies := false
			for _, t := range types {
				applies = applies || t == want
			}
			if !applies {
				continue
			}
			isolated = true
			if egress {
				for _, rule := range np.Spec.Egress {
					if peersMatch(rule.To, np.Namespace, dst) && portAllowed(rule.Ports, dst, port, protocol) {
						ok = true
					}
				}
			} else {
				for _, rule := range np.Spec.Ingress {
					if peersMatch(rule.From, np.Namespace, src) && portAllowed(rule.Ports, dst, port, protocol) {
						ok = true
					}
				}
			}
		}
		return !isolated || ok
	}
	if src.internal && !direction(src, true) {
		return false
	}
	if dst.internal && !direction(dst, false) {
		return false
	}
	return true
}

func peersMatch(peers []networkingv1.NetworkPolicyPeer, namespace string, pod *netPod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if peerMatches(peer, namespace, pod) {
			return true
		}
	}
	return false
}

func checkNetwork(s *Set) []Finding {
	var out []Finding
	var pods []*netPod
	var namespace string
	for name := range s.Namespaces {
		namespace = name
	}
	nsLabels := map[string]string{"kubernetes.io/metadata.name": namespace}
	if ns, ok := s.Namespaces[namespace]; ok {
		for k, v := range ns.Labels {
			nsLabels[k] = v
		}
	}
	for i, p := range s.Pods {
		pods = append(pods, &netPod{role: p.Role(), namespace: p.Namespace, nsLabels: nsLabels, labels: p.Labels,
			ports: p.Ports, ip: net.IPv4(10, 244, 0, byte(i+1)), internal: true})
	}
	pods = append(pods, externalPods()...)

	// Default deny, both ways, for every pod of the namespace.
	for _, direction := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
		found := false
		for _, np := range s.NetworkPolicies {
			empty := len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0
			rules := len(np.Spec.Ingress)
			if direction == networkingv1.PolicyTypeEgress {
				rules = len(np.Spec.Egress)
			}
			for _, t := range np.Spec.PolicyTypes {
				found = found || (empty && t == direction && rules == 0)
			}
		}
		if !found {
			out = append(out, finding("network", "(namespace "+namespace+")", "no default-deny NetworkPolicy for %s (podSelector {}, policyTypes [%s], no rules)", direction, direction))
		}
	}

	key := func(e edge) string { return fmt.Sprintf("%s -> %s %d/%s", e.from, e.to, e.port, e.protocol) }
	required := map[string]edge{}
	permitted := map[string]bool{}
	for _, e := range architecture {
		required[key(e)], permitted[key(e)] = e, true
	}
	for _, e := range infrastructure {
		permitted[key(e)] = true
	}
	roles := map[string]bool{}
	for _, p := range pods {
		if p.internal {
			roles[p.role] = true
		}
	}
	for _, e := range dnsEdges {
		for role := range roles {
			d := edge{role, e.to, e.port, e.protocol}
			required[key(d)], permitted[key(d)] = d, true
		}
	}

	seen := map[string]bool{}
	for _, src := range pods {
		for _, dst := range pods {
			if !src.internal && !dst.internal {
				continue
			}
			for _, cp := range dst.ports {
				protocol := cp.Protocol
				if protocol == "" {
					protocol = "TCP"
				}
				e := edge{src.role, dst.role, cp.ContainerPort, protocol}
				if !allowed(s.NetworkPolicies, src, dst, cp.ContainerPort, protocol) {
					continue
				}
				seen[key(e)] = true
				if !permitted[key(e)] && !permitted[key(edge{e.from, "*", e.port, e.protocol})] {
					out = append(out, finding("network", "(namespace "+namespace+")", "allows %s, which is not a connection of the architecture", key(e)))
				}
			}
		}
	}
	var missing []string
	for k, e := range required {
		if !roles[e.from] && !isExternalRole(e.from) || !roles[e.to] && !isExternalRole(e.to) {
			continue // a role this overlay does not run
		}
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		out = append(out, finding("network", "(namespace "+namespace+")", "does not allow %s, a connection of the architecture", k))
	}
	return dedupe(out)
}

func isExternalRole(role string) bool {
	for _, p := range externalPods() {
		if p.role == role {
			return true
		}
	}
	return false
}

func dedupe(findings []Finding) []Finding {
	seen := map[string]bool{}
	var out []Finding
	for _, f := range findings {
		if !seen[f.String()] {
			seen[f.String()] = true
			out = append(out, f)
		}
	}
	return out
}
