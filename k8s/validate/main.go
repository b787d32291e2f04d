// Command validate checks rendered Kubernetes manifests offline, the way the API server would
// check them, plus this stack's own policies:
//
//  1. decoding: YAML (duplicate keys refused), a known apiVersion/kind, and for built-in kinds a
//     strict decode into the k8s.io/api Go types (unknown fields refused);
//  2. API validation: built-in objects are defaulted, converted to the internal types and
//     validated with the API server's own functions (k8s.io/kubernetes/pkg/apis/*/validation);
//     pod templates are evaluated against the Pod Security Standard "restricted" with the
//     PodSecurity admission plugin's code; custom resources against their operators' CRDs
//     (unknown fields, defaults, OpenAPI schema, CEL rules) and Go types;
//  3. policies (policy.go, netpol.go): probes, resources, security context, rollout, shutdown
//     arithmetic, PDB and HPA per Deployment, selectors, ports, environment keys, secrets,
//     images, namespace, the network graph, database connections, JWT.
//
// Usage:
//
//	validate [-explain] [-external-secrets a,b] [-repo DIR] [-expect check,...] [-schema-only] rendered.yaml...
//
// Each file is one rendered overlay (kustomize build output), validated as a whole. With
// -expect, the command succeeds only if the findings are exactly in the listed checks (each at
// least once): for showing that a broken manifest is caught.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Options of one validation.
type Options struct {
	// ExternalSecrets are Secrets the manifests use without defining: created by the cluster's
	// operator (production) before the first deploy.
	ExternalSecrets []string
	// SchemaOnly skips the policy checks: for manifests that are not a stack (k8s/gitops/).
	SchemaOnly bool
}

// Validate checks one rendered overlay.
func Validate(data []byte, crds *CRDRegistry, opts Options) (findings []Finding, objects int) {
	decoded, findings := decodeAll(data, crds)
	typed := map[*Object]any{}
	for _, o := range decoded {
		if o.Typed != nil {
			findings = append(findings, validateBuiltin(o)...)
			continue
		}
		f, t := crds.Validate(o)
		findings = append(findings, f...)
		if t != nil {
			typed[o] = t
		}
	}
	if opts.SchemaOnly {
		return findings, len(decoded)
	}
	findings = append(findings, validatePodSecurity(decoded)...)
	set := NewSet(decoded, typed, opts.ExternalSecrets)
	for _, check := range policyChecks {
		findings = append(findings, check.run(set)...)
	}
	return findings, len(decoded)
}

func main() {
	external := flag.String("external-secrets", "", "comma-separated Secrets created by the cluster's operator, not by the manifests")
	repo := flag.String("repo", "", "repository root: also check the env table against the services' source")
	expect := flag.String("expect", "", "comma-separated checks that must fail (and no other): for broken fixtures")
	schemaOnly := flag.Bool("schema-only", false, "decoding and API/CRD validation only, no policy checks (for k8s/gitops/)")
	explain := flag.Bool("explain", false, "print what is validated and how, then the results")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: validate [-external-secrets a,b] [-repo DIR] [-expect checks] rendered.yaml...")
		os.Exit(2)
	}
	crds, err := LoadCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading CRDs:", err)
		os.Exit(2)
	}
	if *explain {
		fmt.Println("built-in kinds (strict decode, defaults, API server validation):")
		var kinds []string
		for gvk := range builtinKinds {
			kinds = append(kinds, "  "+strings.TrimPrefix(gvk.GroupVersion().String()+"/"+gvk.Kind, "/"))
		}
		sort.Strings(kinds)
		fmt.Println(strings.Join(kinds, "\n"))
		fmt.Println("custom resources (CRD schema: unknown fields, defaults, OpenAPI, CEL; Go types where listed):")
		for _, k := range crds.Kinds() {
			fmt.Println("  " + k)
		}
		fmt.Println("policy checks:")
		for _, c := range policyChecks {
			fmt.Printf("  %-15s %s\n", c.id, c.doc)
		}
	}
	failed := false
	if *repo != "" {
		errs, warnings := checkEnvTable(*repo)
		for _, w := range warnings {
			fmt.Println("warning: env table:", w)
		}
		for _, e := range errs {
			fmt.Println("FAIL env table:", e)
			failed = true
		}
		if len(errs) == 0 {
			fmt.Printf("ok   env table: every listed variable is read by the source it is listed under\n")
		}
	}
	for _, file := range flag.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		findings, objects := Validate(data, crds, Options{ExternalSecrets: strings.Split(*external, ","), SchemaOnly: *schemaOnly})
		byCheck := map[string]int{}
		for _, f := range findings {
			byCheck[f.Check]++
		}
		if *expect != "" {
			want := map[string]bool{}
			for _, c := range strings.Split(*expect, ",") {
				want[c] = true
			}
			ok := true
			for c := range want {
				if byCheck[c] == 0 {
					fmt.Printf("FAIL %s: expected findings of check %q, got none\n", file, c)
					ok = false
				}
			}
			for c := range byCheck {
				if !want[c] {
					ok = false
				}
			}
			for _, f := range findings {
				marker := "caught"
				if !want[f.Check] {
					marker = "UNEXPECTED"
				}
				fmt.Printf("  %-10s %s\n", marker, f)
			}
			if ok {
				fmt.Printf("ok   %s: broken as expected, caught by %s\n", file, strings.Join(sortedKeys(byCheck), ", "))
			} else {
				failed = true
			}
			continue
		}
		if len(findings) == 0 {
			if *schemaOnly {
				fmt.Printf("ok   %s: %d objects, API/CRD validation passed (no policy checks)\n", file, objects)
			} else {
				fmt.Printf("ok   %s: %d objects, API validation and %d policy checks passed\n", file, objects, len(policyChecks))
			}
			continue
		}
		failed = true
		sort.SliceStable(findings, func(i, j int) bool { return findings[i].Check < findings[j].Check })
		fmt.Printf("FAIL %s: %d findings\n", file, len(findings))
		for _, f := range findings {
			fmt.Println("  " + f.String())
		}
	}
	if failed {
		os.Exit(1)
	}
}
