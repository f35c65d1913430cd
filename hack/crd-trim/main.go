// Command crd-trim removes the descriptions that controller-gen copies from
// core/v1 into the embedded pod templates of a CRD. With them the ZMQTopology
// CRD is ~700 KB, more than the 256 KiB that client-side `kubectl apply`
// can store in its last-applied annotation; without them it fits, and
// `kubectl explain` still documents every field of our own. The schema
// (types, required fields, validation) is left intact.
//
//	go run ./hack/crd-trim config/crd/bases/*.yaml
package main

import (
	"bytes"
	"fmt"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// trimmed lists, per top-level schema path, the properties whose subtree
// loses its descriptions (the property's own description stays).
var trimmed = [][]string{
	{"spec", "components", "[]", "template"},
}

func main() {
	for _, path := range os.Args[1:] {
		if err := trimFile(path); err != nil {
			fmt.Fprintf(os.Stderr, "crd-trim: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func trimFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		return fmt.Errorf("decoding CRD: %w", err)
	}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		for _, p := range trimmed {
			if s := lookup(v.Schema.OpenAPIV3Schema, p); s != nil {
				for name, prop := range s.Properties {
					stripDescriptions(&prop)
					s.Properties[name] = prop
				}
			}
		}
	}
	out, err := yaml.Marshal(&crd)
	if err != nil {
		return err
	}
	// Keep controller-gen's document layout: a leading "---" and no status.
	out = bytes.Replace(out, []byte("\nstatus:\n  acceptedNames:\n    kind: \"\"\n    plural: \"\"\n  conditions: null\n  storedVersions: null\n"), []byte("\n"), 1)
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

// lookup walks properties by name; "[]" steps into array items. Properties
// are held by value, so the result is a copy whose Properties map is shared
// with the CRD: edit the entries of that map, not the copy itself.
func lookup(s *apiextensionsv1.JSONSchemaProps, path []string) *apiextensionsv1.JSONSchemaProps {
	for _, p := range path {
		if p == "[]" {
			if s.Items == nil || s.Items.Schema == nil {
				return nil
			}
			s = s.Items.Schema
			continue
		}
		next, ok := s.Properties[p]
		if !ok {
			return nil
		}
		s = &next
	}
	return s
}

func stripDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	s.Description = ""
	for k, p := range s.Properties {
		stripDescriptions(&p)
		s.Properties[k] = p
	}
	if s.Items != nil {
		if s.Items.Schema != nil {
			stripDescriptions(s.Items.Schema)
		}
		for i := range s.Items.JSONSchemas {
			stripDescriptions(&s.Items.JSONSchemas[i])
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		stripDescriptions(s.AdditionalProperties.Schema)
	}
	for _, list := range [][]apiextensionsv1.JSONSchemaProps{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			stripDescriptions(&list[i])
		}
	}
}
