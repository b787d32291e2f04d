package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Set is one rendered overlay: every object, indexed for the policy checks.
type Set struct {
	Objects         []*Object
	ExternalSecrets map[string]bool

	Namespaces      map[string]*corev1.Namespace
	Deployments     []*appsv1.Deployment
	StatefulSets    []*appsv1.StatefulSet
	Services        []*corev1.Service
	ConfigMaps      map[string]*corev1.ConfigMap
	Secrets         map[string]*corev1.Secret
	ServiceAccounts map[string]*corev1.ServiceAccount
	PDBs            []*policyv1.PodDisruptionBudget
	HPAs            []*autoscalingv2.HorizontalPodAutoscaler
	NetworkPolicies []*networkingv1.NetworkPolicy
	Ingresses       []*networkingv1.Ingress
	Clusters        []*cnpgv1.Cluster
	ServiceMonitors []*monitoringv1.ServiceMonitor

	// Pods are the pod sets the manifests will run: workload templates, and the instances of
	// operator-managed clusters (CloudNativePG), described by the labels and ports the
	// operator gives them.
	Pods []*PodSet
}

// PodSet is a group of identical pods.
type PodSet struct {
	ID        string
	Namespace string
	Labels    map[string]string
	Ports     []corev1.ContainerPort
	Template  *corev1.PodTemplateSpec // nil for operator-managed pods
	Workload  *Object
}

func (p *PodSet) Role() string {
	if p.Labels["app.kubernetes.io/component"] == "database" {
		return "database"
	}
	return p.Labels["app.kubernetes.io/name"]
}

// NewSet indexes the objects; typedCRs are the custom resources decoded into Go types.
func NewSet(objects []*Object, typedCRs map[*Object]any, externalSecrets []string) *Set {
	s := &Set{
		Objects: objects, ExternalSecrets: map[string]bool{},
		Namespaces: map[string]*corev1.Namespace{}, ConfigMaps: map[string]*corev1.ConfigMap{},
		Secrets: map[string]*corev1.Secret{}, ServiceAccounts: map[string]*corev1.ServiceAccount{},
	}
	for _, name := range externalSecrets {
		if name != "" {
			s.ExternalSecrets[name] = true
		}
	}
	for _, o := range objects {
		switch t := o.Typed.(type) {
		case *corev1.Namespace:
			s.Namespaces[t.Name] = t
		case *appsv1.Deployment:
			s.Deployments = append(s.Deployments, t)
			s.Pods = append(s.Pods, &PodSet{ID: o.ID(), Namespace: t.Namespace, Labels: t.Spec.Template.Labels,
				Ports: containerPorts(&t.Spec.Template.Spec), Template: &t.Spec.Template, Workload: o})
		case *appsv1.StatefulSet:
			s.StatefulSets = append(s.StatefulSets, t)
			s.Pods = append(s.Pods, &PodSet{ID: o.ID(), Namespace: t.Namespace, Labels: t.Spec.Template.Labels,
				Ports: containerPorts(&t.Spec.Template.Spec), Template: &t.Spec.Template, Workload: o})
		case *corev1.Service:
			s.Services = append(s.Services, t)
		case *corev1.ConfigMap:
			s.ConfigMaps[t.Name] = t
		case *corev1.Secret:
			s.Secrets[t.Name] = t
		case *corev1.ServiceAccount:
			s.ServiceAccounts[t.Name] = t
		case *policyv1.PodDisruptionBudget:
			s.PDBs = append(s.PDBs, t)
		case *autoscalingv2.HorizontalPodAutoscaler:
			s.HPAs = append(s.HPAs, t)
		case *networkingv1.NetworkPolicy:
			s.NetworkPolicies = append(s.NetworkPolicies, t)
		case *networkingv1.Ingress:
			s.Ingresses = append(s.Ingresses, t)
		}
		switch t := typedCRs[o].(type) {
		case *cnpgv1.Cluster:
			s.Clusters = append(s.Clusters, t)
			podLabels := map[string]string{"cnpg.io/cluster": t.Name, "cnpg.io/podRole": "instance"}
			var inherited map[string]string
			if t.Spec.InheritedMetadata != nil {
				inherited = t.Spec.InheritedMetadata.Labels
			}
			for k, v := range inherited {
				podLabels[k] = v
			}
			s.Pods = append(s.Pods, &PodSet{ID: o.ID() + " (instances)", Namespace: o.Namespace, Labels: podLabels,
				Ports: []corev1.ContainerPort{
					{Name: "postgresql", ContainerPort: 5432, Protocol: corev1.ProtocolTCP},
					{Name: "status", ContainerPort: 8000, Protocol: corev1.ProtocolTCP},
					{Name: "metrics", ContainerPort: 9187, Protocol: corev1.ProtocolTCP},
				}})
			// The operator creates these Secrets: the server CA and the bootstrap owner's.
			s.ExternalSecrets[t.Name+"-ca"] = true
			s.ExternalSecrets[t.Name+"-app"] = true
		case *monitoringv1.ServiceMonitor:
			s.ServiceMonitors = append(s.ServiceMonitors, t)
		}
	}
	return s
}

func containerPorts(spec *corev1.PodSpec) []corev1.ContainerPort {
	var ports []corev1.ContainerPort
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
			ports = append(ports, p)
		}
	}
	return ports
}

// selects reports whether a label selector (nil: nothing) selects the labels.
func selects(selector *metav1.LabelSelector, podLabels map[string]string) bool {
	if selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(podLabels))
}

// podsSelected returns the pod sets in a namespace that a selector selects.
func (s *Set) podsSelected(namespace string, selector *metav1.LabelSelector) []*PodSet {
	var result []*PodSet
	for _, p := range s.Pods {
		if p.Namespace == namespace && selects(selector, p.Labels) {
			result = append(result, p)
		}
	}
	return result
}

func (s *Set) hpaFor(d *appsv1.Deployment) []*autoscalingv2.HorizontalPodAutoscaler {
	var result []*autoscalingv2.HorizontalPodAutoscaler
	for _, h := range s.HPAs {
		ref := h.Spec.ScaleTargetRef
		if h.Namespace == d.Namespace && ref.Kind == "Deployment" && ref.APIVersion == "apps/v1" && ref.Name == d.Name {
			result = append(result, h)
		}
	}
	return result
}

// ---------------------------------------------------------------------------------------------
// Environment resolution
// ---------------------------------------------------------------------------------------------

// EnvVar is one variable as the kubelet would set it.
type EnvVar struct {
	Name   string
	Value  string // literal value after $(VAR) expansion; "" when from a Secret
	Source string // "literal", "configmap <name>", "secret <name>", "field", "resource"
	// Refs are the $(VAR) references in the literal, before expansion.
	Refs []string
	// Unresolved are references that name no earlier variable (left as-is by the kubelet).
	Unresolved []string
	Index      int
}

var refPattern = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// resolveEnv returns a container's environment in the kubelet's order (envFrom first, then env)
// and the problems found on the way (missing ConfigMaps, Secrets or keys).
func (s *Set) resolveEnv(c *corev1.Container) ([]*EnvVar, []string) {
	var vars []*EnvVar
	var problems []string
	byName := map[string]*EnvVar{}
	set := func(v *EnvVar) {
		v.Index = len(vars)
		vars = append(vars, v)
		byName[v.Name] = v
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := s.ConfigMaps[from.ConfigMapRef.Name]
			if !ok {
				if from.ConfigMapRef.Optional == nil || !*from.ConfigMapRef.Optional {
					problems = append(problems, fmt.Sprintf("envFrom ConfigMap %q is not in the manifests", from.ConfigMapRef.Name))
				}
				continue
			}
			for _, key := range sortedKeys(cm.Data) {
				set(&EnvVar{Name: from.Prefix + key, Value: cm.Data[key], Source: "configmap " + cm.Name})
			}
		case from.SecretRef != nil:
			sec, ok := s.Secrets[from.SecretRef.Name]
			if !ok {
				problems = append(problems, fmt.Sprintf("envFrom Secret %q: its keys cannot be checked unless it is in the manifests", from.SecretRef.Name))
				continue
			}
			keys := map[string]bool{}
			for k := range sec.Data {
				keys[k] = true
			}
			for k := range sec.StringData {
				keys[k] = true
			}
			for _, key := range sortedKeys(keys) {
				set(&EnvVar{Name: from.Prefix + key, Source: "secret " + sec.Name})
			}
		}
	}
	for _, e := range c.Env {
		v := &EnvVar{Name: e.Name}
		switch {
		case e.ValueFrom == nil:
			v.Source = "literal"
			v.Value = refPattern.ReplaceAllStringFunc(e.Value, func(m string) string {
				if m == "$$" {
					return "$"
				}
				name := m[2 : len(m)-1]
				v.Refs = append(v.Refs, name)
				if earlier, ok := byName[name]; ok {
					if strings.HasPrefix(earlier.Source, "secret") {
						return "<" + name + ">"
					}
					return earlier.Value
				}
				v.Unresolved = append(v.Unresolved, name)
				return m
			})
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			v.Source = "configmap " + ref.Name
			cm, ok := s.ConfigMaps[ref.Name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: ConfigMap %q is not in the manifests", e.Name, ref.Name))
			default:
				value, ok := cm.Data[ref.Key]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: ConfigMap %q has no key %q", e.Name, ref.Name, ref.Key))
				}
				v.Value = value
			}
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v.Source = "secret " + ref.Name
			if sec, ok := s.Secrets[ref.Name]; ok {
				_, inData := sec.Data[ref.Key]
				_, inString := sec.StringData[ref.Key]
				if !inData && !inString {
					problems = append(problems, fmt.Sprintf("%s: Secret %q has no key %q", e.Name, ref.Name, ref.Key))
				}
			} else if !s.ExternalSecrets[ref.Name] {
				problems = append(problems, fmt.Sprintf("%s: Secret %q is neither in the manifests nor declared as created by the cluster's operator", e.Name, ref.Name))
			}
		case e.ValueFrom.FieldRef != nil:
			v.Source = "field"
		case e.ValueFrom.ResourceFieldRef != nil:
			v.Source = "resource"
		}
		set(v)
	}
	return vars, problems
}

func envValue(vars []*EnvVar, name string) (string, bool) {
	found, ok := "", false
	for _, v := range vars {
		if v.Name == name {
			found, ok = v.Value, true // the last definition wins
		}
	}
	return found, ok
}

// effectDuration parses a duration as the services' Config.Duration reads it ("5 seconds").
func effectDuration(text string) (time.Duration, error) {
	m := regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*(nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)\s*$`).FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("not a duration: %q", text)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	unit := map[string]time.Duration{"nano": time.Nanosecond, "micro": time.Microsecond, "milli": time.Millisecond,
		"second": time.Second, "minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
	return time.Duration(n * float64(unit)), nil
}
