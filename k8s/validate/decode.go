package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"sigs.k8s.io/yaml"

	// Register the internal and v1 types, their defaults and conversions in legacyscheme, as
	// the API server does.
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/autoscaling/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
)

// Object is one document of a rendered manifest.
type Object struct {
	Index     int
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	// JSON is the document as JSON (from YAML, duplicate keys refused).
	JSON []byte
	// Typed is the built-in object strictly decoded into its Go type (nil for custom resources).
	Typed runtime.Object
	// Raw is the document as a generic map (every object).
	Raw map[string]any
}

// ID names an object in findings: kind/namespace/name.
func (o *Object) ID() string {
	if o.Namespace != "" {
		return fmt.Sprintf("%s/%s/%s", o.GVK.Kind, o.Namespace, o.Name)
	}
	return fmt.Sprintf("%s/%s", o.GVK.Kind, o.Name)
}

// Finding is one failed check.
type Finding struct {
	Check   string
	Object  string
	Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("[%s] %s: %s", f.Check, f.Object, f.Message)
}

// builtinKinds are the built-in kinds this validator knows how to validate: strict decoding into
// the Go type of k8s.io/api, then the API server's defaulting, conversion and validation
// functions (k8s.io/kubernetes/pkg/apis/*/validation). Anything else that is not a custom
// resource with a schema (crds.go) is refused.
var builtinKinds = map[schema.GroupVersionKind]bool{
	{Version: "v1", Kind: "Namespace"}:                                     true,
	{Version: "v1", Kind: "ServiceAccount"}:                                true,
	{Version: "v1", Kind: "ConfigMap"}:                                     true,
	{Version: "v1", Kind: "Secret"}:                                        true,
	{Version: "v1", Kind: "Service"}:                                       true,
	{Version: "v1", Kind: "PersistentVolumeClaim"}:                         true,
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                     true,
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                    true,
	{Group: "batch", Version: "v1", Kind: "Job"}:                           true,
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:          true,
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}: true,
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}:     true,
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}:           true,
}

// strictDecoder decodes into the versioned Go types and reports unknown and duplicate fields,
// like the API server with fieldValidation=Strict. It neither defaults nor converts.
var strictDecoder = serializer.NewCodecFactory(legacyscheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// splitDocuments splits a multi-document YAML stream; empty documents are dropped.
func splitDocuments(data []byte) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(strings.TrimSpace(stripComments(string(doc)))) == 0 {
			continue
		}
		docs = append(docs, doc)
	}
}

func stripComments(doc string) string {
	var lines []string
	for _, line := range strings.Split(doc, "\n") {
		if trimmed := strings.TrimSpace(line); trimmed != "" && !strings.HasPrefix(trimmed, "#") && trimmed != "---" {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// decodeAll parses every document: YAML to JSON (duplicate keys are an error), the type by
// apiVersion and kind, and for built-in kinds a strict decode into the Go type.
func decodeAll(data []byte, crds *CRDRegistry) ([]*Object, []Finding) {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, []Finding{{Check: "decode", Object: "(stream)", Message: err.Error()}}
	}
	var objects []*Object
	var findings []Finding
	for i, doc := range docs {
		where := fmt.Sprintf("document %d", i+1)
		jsonData, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			findings = append(findings, Finding{"decode", where, err.Error()})
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal(jsonData, &raw); err != nil {
			findings = append(findings, Finding{"decode", where, "not an object: " + err.Error()})
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(jsonData, &meta)
		gv, err := schema.ParseGroupVersion(meta.APIVersion)
		if err != nil || meta.Kind == "" {
			findings = append(findings, Finding{"decode", where, fmt.Sprintf("no valid apiVersion/kind (%q, %q)", meta.APIVersion, meta.Kind)})
			continue
		}
		object := &Object{
			Index: i, GVK: gv.WithKind(meta.Kind), Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace,
			JSON: jsonData, Raw: raw,
		}
		switch {
		case builtinKinds[object.GVK]:
			typed, _, err := strictDecoder.Decode(jsonData, nil, nil)
			if err != nil {
				// A strict decoding error still returns the object; anything else does not.
				findings = append(findings, Finding{"schema", object.ID(), err.Error()})
				if !runtime.IsStrictDecodingError(err) || typed == nil {
					continue
				}
			}
			object.Typed = typed
		case crds.Knows(object.GVK):
		default:
			findings = append(findings, Finding{"kind", object.ID(), fmt.Sprintf(
				"%s is not validated here: neither a built-in kind in the allowlist of decode.go nor a custom resource with a schema in crds.go",
				object.GVK.GroupVersion().String()+"/"+object.GVK.Kind)})
			continue
		}
		objects = append(objects, object)
	}
	return objects, findings
}
