// Command crd-trim removes the descriptions that controller-gen copies from
// core/v1 into the embedded pod templates of a CRD. With them the ZMQTopology
// CRD is ~700 KB, more than the 256 KiB that client-side `kubectl apply`
// can store in its last-applied annotation; without them it fits, and
// `kubectl explain` still documents every field of our own. The schema
// (types, required fields, validation) is left intact, except for what it
// adds to the embedded pod template: bounds (see bounds), and the CEL rules
// of zmqv1.TemplateRules on the fields they check, which controller-gen
// cannot place inside core/v1's types.
//
//	go run ./hack/crd-trim config/crd/bases/*.yaml
package main

import (
	"bytes"
	"fmt"
	"os"
	"reflect"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// trimmed lists, per top-level schema path, the properties whose subtree
// loses its descriptions (the property's own description stays).
var trimmed = [][]string{template}

func main() {
	for _, path := range os.Args[1:] {
		if err := trimFile(path); err != nil {
			fmt.Fprintf(os.Stderr, "crd-trim: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

// template is the path of the embedded pod template, templateSpec that of
// its spec.
var (
	template     = []string{"spec", "components", "[]", "template"}
	templateSpec = append(append([]string{}, template...), "spec")
)

// bounds caps lists and names of the embedded pod template, so that the API
// server can afford the CEL rules that check the names and ports the
// operator reserves there (zmqv1.TemplateRules). It estimates a rule's cost
// from the largest size a string may have and how many times the rule may
// run, the product of the maxItems of the lists above it; unbounded, a list
// is assumed to fill a whole request and the CRD's rules together are
// refused as over budget. Names get the limits Kubernetes enforces on them
// anyway (container and volume names are DNS labels, port names IANA
// service names); the lists get caps that Kubernetes does not have and that
// no real pod reaches.
var bounds = []struct {
	path      []string
	maxItems  int64
	maxLength int64
}{
	{path: []string{"containers"}, maxItems: 64},
	{path: []string{"containers", "[]", "name"}, maxLength: 63},
	{path: []string{"containers", "[]", "ports"}, maxItems: 64},
	{path: []string{"containers", "[]", "ports", "[]", "name"}, maxLength: 15},
	{path: []string{"initContainers"}, maxItems: 64},
	{path: []string{"initContainers", "[]", "name"}, maxLength: 63},
	{path: []string{"initContainers", "[]", "ports"}, maxItems: 64},
	{path: []string{"initContainers", "[]", "ports", "[]", "name"}, maxLength: 15},
	{path: []string{"volumes"}, maxItems: 256},
	{path: []string{"volumes", "[]", "name"}, maxLength: 63},
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
		for _, b := range bounds {
			p := append(append([]string{}, templateSpec...), b.path...)
			found := edit(v.Schema.OpenAPIV3Schema, p, func(s *apiextensionsv1.JSONSchemaProps) {
				if b.maxItems > 0 {
					s.MaxItems = &b.maxItems
				}
				if b.maxLength > 0 {
					s.MaxLength = &b.maxLength
				}
			})
			if !found {
				return fmt.Errorf("no schema at %v to bound", p)
			}
		}
		if err := addTemplateRules(v.Schema.OpenAPIV3Schema); err != nil {
			return err
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

// addTemplateRules adds each of zmqv1.TemplateRules to the schema of the
// field it checks, after the rules already there, unless it is there
// already: a second run over a trimmed CRD changes nothing.
func addTemplateRules(root *apiextensionsv1.JSONSchemaProps) error {
	for _, r := range zmqv1.TemplateRules() {
		rule := apiextensionsv1.ValidationRule{Rule: r.Rule, Message: r.Message, FieldPath: r.FieldPath}
		if r.Reason != "" {
			reason := apiextensionsv1.FieldValueErrorReason(r.Reason)
			rule.Reason = &reason
		}
		p := append(append([]string{}, template...), r.Path...)
		found := edit(root, p, func(s *apiextensionsv1.JSONSchemaProps) {
			for _, have := range s.XValidations {
				if reflect.DeepEqual(have, rule) {
					return
				}
			}
			s.XValidations = append(s.XValidations, rule)
		})
		if !found {
			return fmt.Errorf("no schema at %v for the rule %q", p, r.Rule)
		}
	}
	return nil
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

// edit applies f to the schema at path ("[]" steps into array items),
// writing the change back through the Properties maps, which hold values.
// It reports whether the path exists.
func edit(s *apiextensionsv1.JSONSchemaProps, path []string, f func(*apiextensionsv1.JSONSchemaProps)) bool {
	if len(path) == 0 {
		f(s)
		return true
	}
	if path[0] == "[]" {
		return s.Items != nil && s.Items.Schema != nil && edit(s.Items.Schema, path[1:], f)
	}
	next, ok := s.Properties[path[0]]
	if !ok || !edit(&next, path[1:], f) {
		return false
	}
	s.Properties[path[0]] = next
	return true
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
