package main

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	"k8s.io/kubernetes/pkg/apis/apps"
	appsvalidation "k8s.io/kubernetes/pkg/apis/apps/validation"
	"k8s.io/kubernetes/pkg/apis/autoscaling"
	autoscalingvalidation "k8s.io/kubernetes/pkg/apis/autoscaling/validation"
	"k8s.io/kubernetes/pkg/apis/batch"
	batchvalidation "k8s.io/kubernetes/pkg/apis/batch/validation"
	"k8s.io/kubernetes/pkg/apis/core"
	corevalidation "k8s.io/kubernetes/pkg/apis/core/validation"
	"k8s.io/kubernetes/pkg/apis/networking"
	networkingvalidation "k8s.io/kubernetes/pkg/apis/networking/validation"
	"k8s.io/kubernetes/pkg/apis/policy"
	policyvalidation "k8s.io/kubernetes/pkg/apis/policy/validation"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
)

// validateBuiltin runs what the API server runs on create for a built-in object: defaulting
// (the registered defaulters of the versioned type), conversion to the internal type, and the
// kind's validation function with the options its registry strategy would pass.
func validateBuiltin(object *Object) []Finding {
	versioned := object.Typed.DeepCopyObject()
	legacyscheme.Scheme.Default(versioned)
	internalGV := object.GVK.GroupVersion()
	internalGV.Version = runtime.APIVersionInternal
	internal, err := legacyscheme.Scheme.ConvertToVersion(versioned, internalGV)
	if err != nil {
		return []Finding{{"api-validation", object.ID(), "conversion to the internal type failed: " + err.Error()}}
	}
	var errs field.ErrorList
	switch o := internal.(type) {
	case *core.Namespace:
		errs = corevalidation.ValidateNamespace(o)
	case *core.ServiceAccount:
		errs = corevalidation.ValidateServiceAccount(o)
	case *core.ConfigMap:
		errs = corevalidation.ValidateConfigMap(o)
	case *core.Secret:
		errs = corevalidation.ValidateSecret(o)
	case *core.Service:
		// What the Service registry does before validating a create (normalizeClusterIPs).
		if o.Spec.ClusterIP != "" && len(o.Spec.ClusterIPs) == 0 {
			o.Spec.ClusterIPs = []string{o.Spec.ClusterIP}
		}
		errs = corevalidation.ValidateServiceCreate(o)
	case *core.PersistentVolumeClaim:
		errs = corevalidation.ValidatePersistentVolumeClaim(o, corevalidation.ValidationOptionsForPersistentVolumeClaim(o, nil))
	case *apps.Deployment:
		errs = appsvalidation.ValidateDeployment(o, podutil.GetValidationOptionsFromPodTemplate(&o.Spec.Template, nil))
	case *apps.StatefulSet:
		errs = appsvalidation.ValidateStatefulSet(o, podutil.GetValidationOptionsFromPodTemplate(&o.Spec.Template, nil))
	case *batch.Job:
		errs = batchvalidation.ValidateJob(o, batchvalidation.JobValidationOptions{
			PodValidationOptions: podutil.GetValidationOptionsFromPodTemplate(&o.Spec.Template, nil),
		})
	case *policy.PodDisruptionBudget:
		errs = policyvalidation.ValidatePodDisruptionBudget(o, policyvalidation.PodDisruptionBudgetValidationOptions{})
	case *autoscaling.HorizontalPodAutoscaler:
		errs = autoscalingvalidation.ValidateHorizontalPodAutoscaler(o, autoscalingvalidation.HorizontalPodAutoscalerSpecValidationOptions{
			MinReplicasLowerBound:           1,
			ScaleTargetRefValidationOptions: autoscalingvalidation.CrossVersionObjectReferenceValidationOptions{},
			ObjectMetricsValidationOptions:  autoscalingvalidation.CrossVersionObjectReferenceValidationOptions{AllowEmptyAPIGroup: true},
		})
	case *networking.NetworkPolicy:
		errs = networkingvalidation.ValidateNetworkPolicy(o, networkingvalidation.ValidationOptionsForNetworking(o, nil))
	case *networking.Ingress:
		errs = networkingvalidation.ValidateIngressCreate(o)
	default:
		return []Finding{{"api-validation", object.ID(), fmt.Sprintf("no validation function wired for %T", internal)}}
	}
	var findings []Finding
	for _, e := range errs {
		findings = append(findings, Finding{"api-validation", object.ID(), e.Error()})
	}
	return findings
}

// podTemplate returns the pod template of a workload, or nil.
func podTemplate(object *Object) *corev1.PodTemplateSpec {
	switch o := object.Typed.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.StatefulSet:
		return &o.Spec.Template
	case *batchv1.Job:
		return &o.Spec.Template
	}
	return nil
}

// validatePodSecurity evaluates every pod template against the Pod Security Standard its
// namespace enforces (pod-security.kubernetes.io/enforce), with the same code as the
// PodSecurity admission plugin. A namespace that is not in the set, or enforces nothing, is a
// finding too: every pod here must run under "restricted".
func validatePodSecurity(objects []*Object) []Finding {
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		return []Finding{{"pod-security", "(evaluator)", err.Error()}}
	}
	levels := map[string]string{}
	for _, o := range objects {
		if ns, ok := o.Typed.(*corev1.Namespace); ok {
			levels[ns.Name] = ns.Labels[psaapi.EnforceLevelLabel]
		}
	}
	var findings []Finding
	for _, o := range objects {
		template := podTemplate(o)
		if template == nil {
			continue
		}
		level, ok := levels[o.Namespace]
		if !ok || level != string(psaapi.LevelRestricted) {
			findings = append(findings, Finding{"pod-security", o.ID(), fmt.Sprintf(
				"its namespace %q must be in the manifests and enforce pod-security.kubernetes.io/enforce=restricted (found %q)", o.Namespace, level)})
			continue
		}
		results := evaluator.EvaluatePod(
			psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()},
			&metav1.ObjectMeta{Labels: template.Labels, Annotations: template.Annotations},
			&template.Spec,
		)
		for _, r := range results {
			if !r.Allowed {
				findings = append(findings, Finding{"pod-security", o.ID(),
					fmt.Sprintf("violates restricted: %s (%s)", r.ForbiddenReason, strings.TrimSpace(r.ForbiddenDetail))})
			}
		}
	}
	return findings
}
