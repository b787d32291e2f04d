package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsinstall "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	strictjson "sigs.k8s.io/json"
)

// Custom resources are validated as the API server validates them, from the CustomResource
// Definition their operator publishes: unknown fields (what the API server's strict field
// validation reports, via the pruning algorithm), structural defaults, the OpenAPI schema, the
// x-kubernetes-validations CEL rules, and metadata. Where the operator's Go API types can be
// imported (CloudNativePG, Prometheus Operator) the object is also strictly decoded into them.
//
// The CRDs are read from the operators' Go modules, fetched through the Go module proxy at the
// versions below (CloudNativePG and the Prometheus Operator at the versions go.mod pins for
// their Go types; Argo CD's module is only downloaded for its CRD, its Go types pull in a
// second copy of Kubernetes and are not imported).
const argoCDModule, argoCDVersion = "github.com/argoproj/argo-cd/v3", "v3.5.7"

type crdSource struct {
	module, version string
	files           []string
	// typed strictly decodes the object into the operator's Go type, when there is one.
	typed map[string]func() any
}

func crdSources() []crdSource {
	return []crdSource{
		{
			module: "github.com/cloudnative-pg/cloudnative-pg", version: dependencyVersion("github.com/cloudnative-pg/cloudnative-pg"),
			files: []string{"config/crd/bases/postgresql.cnpg.io_clusters.yaml", "config/crd/bases/postgresql.cnpg.io_databases.yaml"},
			typed: map[string]func() any{"Cluster": func() any { return &cnpgv1.Cluster{} }, "Database": func() any { return &cnpgv1.Database{} }},
		},
		{
			// The CRDs are in the root module; the Go types in its monitoring submodule, same tag.
			module: "github.com/prometheus-operator/prometheus-operator", version: dependencyVersion("github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring"),
			files: []string{"example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
			typed: map[string]func() any{"ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} }},
		},
		{
			module: argoCDModule, version: argoCDVersion,
			files: []string{"manifests/crds/application-crd.yaml"},
		},
	}
}

// dependencyVersion is the version of a module linked into this binary (pinned in go.mod).
func dependencyVersion(module string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == module {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	panic("not linked: " + module)
}

type crdVersion struct {
	crd        *apiextensions.CustomResourceDefinition
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
	typed      func() any
	source     string
}

// CRDRegistry knows the custom resource kinds whose schema it has loaded.
type CRDRegistry struct {
	versions map[schema.GroupVersionKind]*crdVersion
}

func (r *CRDRegistry) Knows(gvk schema.GroupVersionKind) bool {
	_, ok := r.versions[gvk]
	return ok
}

// Kinds lists the custom resource kinds the registry validates, with the CRD's source.
func (r *CRDRegistry) Kinds() []string {
	var kinds []string
	for gvk, v := range r.versions {
		kinds = append(kinds, fmt.Sprintf("%s/%s (%s)", gvk.GroupVersion(), gvk.Kind, v.source))
	}
	sort.Strings(kinds)
	return kinds
}

// moduleDir downloads a module through the Go module proxy (or finds it in the module cache)
// and returns its directory.
func moduleDir(module, version string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module+"@"+version).Output()
	var result struct{ Dir, Error string }
	_ = json.Unmarshal(out, &result)
	if result.Dir != "" {
		if _, statErr := os.Stat(result.Dir); statErr == nil {
			return result.Dir, nil
		}
	}
	if err != nil || result.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, result.Error)
	}
	return "", fmt.Errorf("go mod download %s@%s: no directory", module, version)
}

// LoadCRDs reads the CRDs of crdSources.
func LoadCRDs() (*CRDRegistry, error) {
	scheme := runtime.NewScheme()
	apiextensionsinstall.Install(scheme)
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	registry := &CRDRegistry{versions: map[schema.GroupVersionKind]*crdVersion{}}
	for _, source := range crdSources() {
		dir, err := moduleDir(source.module, source.version)
		if err != nil {
			return nil, err
		}
		for _, file := range source.files {
			data, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				return nil, err
			}
			object, _, err := decoder.Decode(data, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			v1crd, ok := object.(*apiextensionsv1.CustomResourceDefinition)
			if !ok {
				return nil, fmt.Errorf("%s: not a CustomResourceDefinition", file)
			}
			crd := &apiextensions.CustomResourceDefinition{}
			if err := scheme.Convert(v1crd, crd, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			for _, version := range crd.Spec.Versions {
				if !version.Served {
					continue
				}
				validation := crd.Spec.Validation
				if version.Schema != nil {
					validation = version.Schema
				}
				if validation == nil || validation.OpenAPIV3Schema == nil {
					return nil, fmt.Errorf("%s %s: no schema", file, version.Name)
				}
				structural, err := structuralschema.NewStructural(validation.OpenAPIV3Schema)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", file, version.Name, err)
				}
				validator, _, err := apiservervalidation.NewSchemaValidator(validation.OpenAPIV3Schema)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", file, version.Name, err)
				}
				gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}
				registry.versions[gvk] = &crdVersion{
					crd: crd, structural: structural, validator: validator,
					cel:    cel.NewValidator(structural, true, celconfig.PerCallLimit),
					typed:  source.typed[crd.Spec.Names.Kind],
					source: fmt.Sprintf("%s@%s %s", source.module, source.version, file),
				}
			}
		}
	}
	return registry, nil
}

// Validate validates a custom resource; it returns the findings and, for kinds with Go types,
// the strictly decoded object.
func (r *CRDRegistry) Validate(object *Object) ([]Finding, any) {
	v := r.versions[object.GVK]
	var findings []Finding
	add := func(format string, args ...any) {
		findings = append(findings, Finding{"crd-schema", object.ID(), fmt.Sprintf(format, args...)})
	}

	// Unknown fields, as strict field validation reports them: what pruning would drop.
	var pruned map[string]any
	if err := json.Unmarshal(object.JSON, &pruned); err != nil {
		add("%v", err)
		return findings, nil
	}
	for _, path := range pruning.PruneWithOptions(pruned, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		add("unknown field %q", path)
	}
	// metadata is not pruned by the schema: decode it strictly on its own.
	if metadata, ok := object.Raw["metadata"]; ok {
		data, _ := json.Marshal(metadata)
		if strictErrs, err := strictjson.UnmarshalStrict(data, &metav1.ObjectMeta{}, strictjson.DisallowUnknownFields); err != nil || len(strictErrs) > 0 {
			add("metadata: %v %v", err, strictErrs)
		}
	}

	// Defaults first, then validation, as on create.
	obj := map[string]any{}
	_ = json.Unmarshal(object.JSON, &obj)
	structuraldefaulting.Default(obj, v.structural)
	u := &unstructured.Unstructured{Object: obj}
	namespaced := v.crd.Spec.Scope == apiextensions.NamespaceScoped
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(u, namespaced, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, objectmeta.Validate(nil, obj, v.structural, true)...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, v.validator)...)
	if v.cel != nil {
		celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	for _, e := range errs {
		add("%s", e.Error())
	}

	// The operator's Go types, strictly (unknown and duplicate fields, case-sensitive names).
	var typed any
	if v.typed != nil {
		typed = v.typed()
		strictErrs, err := strictjson.UnmarshalStrict(object.JSON, typed, strictjson.DisallowUnknownFields)
		if err != nil {
			findings = append(findings, Finding{"schema", object.ID(), "Go type: " + err.Error()})
			typed = nil
		}
		for _, e := range strictErrs {
			findings = append(findings, Finding{"schema", object.ID(), "Go type: " + e.Error()})
		}
	}
	return findings, typed
}

// describeCRDs is printed by the CLI: what is validated with which schema.
func (r *CRDRegistry) describe() string {
	return "custom resources validated against their CRDs: " + strings.Join(r.Kinds(), "; ")
}
