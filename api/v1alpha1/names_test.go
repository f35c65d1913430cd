package v1alpha1

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// TestLongestDerivedNames derives every name from the longest topology and
// component names admission allows and checks it against the rule
// Kubernetes applies to it.
func TestLongestDerivedNames(t *testing.T) {
	topology := "t" + strings.Repeat("0", MaxTopologyNameLength-1)
	component := "c" + strings.Repeat("0", MaxComponentNameLength-1)
	base := ObjectName(topology, component)
	if len(base) > MaxBaseNameLength {
		t.Fatalf("%q has %d characters; every derived name is valid only up to %d", base, len(base), MaxBaseNameLength)
	}
	maxOrdinal := "999" // replicas <= 1000
	revisionHash := fmt.Sprint(uint32(math.MaxUint32))
	for _, tc := range []struct {
		what string
		name string
		rule func(string) []string
	}{
		{"workload and ClusterIP Service", base, validation.IsDNS1035Label},
		{"headless Service", HeadlessServiceName(topology, component), validation.IsDNS1035Label},
		{"ConfigMap", ConfigMapName(topology, component), validation.IsDNS1123Subdomain},
		{"StatefulSet pod hostname", base + "-" + maxOrdinal, validation.IsDNS1123Label},
		{"controller-revision-hash label", base + "-" + revisionHash, validation.IsValidLabelValue},
		{"app.kubernetes.io/instance label", base, validation.IsValidLabelValue},
	} {
		if errs := tc.rule(tc.name); len(errs) > 0 {
			t.Errorf("%s %q: %v", tc.what, tc.name, errs)
		}
	}
	// The bound is tight: one more character breaks the revision label.
	if errs := validation.IsValidLabelValue(strings.Repeat("x", MaxBaseNameLength+1) + "-" + revisionHash); len(errs) == 0 {
		t.Errorf("MaxBaseNameLength %d is not the limit", MaxBaseNameLength)
	}
}

// crdSchema reads the generated CRD's schema.
func crdSchema(t *testing.T) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "zmq.topology.dev_zmqtopologies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema
}

// at walks properties by name; "[]" steps into array items.
func at(t *testing.T, s *apiextensionsv1.JSONSchemaProps, path ...string) apiextensionsv1.JSONSchemaProps {
	t.Helper()
	for _, p := range path {
		if p == "[]" {
			s = s.Items.Schema
			continue
		}
		next, ok := s.Properties[p]
		if !ok {
			t.Fatalf("no property %q on the way to %v", p, path)
		}
		s = &next
	}
	return *s
}

// TestCRDLiteralsMatchConstants checks that the limits and reserved names
// the CRD's markers spell out as literals are the Go constants that render
// and Validate use.
func TestCRDLiteralsMatchConstants(t *testing.T) {
	root := crdSchema(t)
	component := at(t, root, "spec", "components", "[]")
	socket := at(t, &component, "sockets", "[]")
	reserved := "['" + strings.Join(ReservedPortNames, "', '") + "']"

	for _, tc := range []struct {
		where  string
		schema apiextensionsv1.JSONSchemaProps
		rules  []string
	}{
		{"root", *root, []string{
			fmt.Sprintf("size(self.metadata.name) <= %d", MaxTopologyNameLength),
		}},
		{"socket name", at(t, &socket, "name"), []string{
			fmt.Sprintf("!(self in %s)", reserved),
		}},
	} {
		have := map[string]string{}
		for _, v := range tc.schema.XValidations {
			have[v.Rule] = v.Message
		}
		for _, want := range tc.rules {
			if _, ok := have[want]; !ok {
				t.Errorf("%s: the CRD has no rule %s; it has %v", tc.where, want, have)
			}
		}
	}

	// The template's rules are built from the constants; the committed
	// CRD must carry each at its field (hack/crd-trim writes them).
	tmpl := at(t, &component, "template")
	for _, r := range TemplateRules() {
		field := at(t, &tmpl, r.Path...)
		found := 0
		for _, v := range field.XValidations {
			reason := ""
			if v.Reason != nil {
				reason = string(*v.Reason)
			}
			if v.Rule == r.Rule && v.Message == r.Message && v.FieldPath == r.FieldPath && reason == r.Reason {
				found++
			}
		}
		if found != 1 {
			t.Errorf("template%v: the CRD has the rule %q (%q) %d times, want once; it has %+v: run make manifests", r.Path, r.Rule, r.Message, found, field.XValidations)
		}
	}

	for _, tc := range []struct {
		what      string
		got, want int64
	}{
		{"component name maxLength", *at(t, &component, "name").MaxLength, MaxComponentNameLength},
		{"connect.component maxLength", *at(t, &socket, "connect", "component").MaxLength, MaxComponentNameLength},
		{"socket name maxLength", *at(t, &socket, "name").MaxLength, MaxSocketNameLength},
		{"connect.socket maxLength", *at(t, &socket, "connect", "socket").MaxLength, MaxSocketNameLength},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d; want %d", tc.what, tc.got, tc.want)
		}
	}
	io := at(t, &component, "device", "ioThreads")
	if io.Minimum == nil || *io.Minimum != 0 || io.Maximum == nil || *io.Maximum != MaxDeviceIOThreads {
		t.Errorf("device.ioThreads minimum, maximum = %v, %v; want 0, MaxDeviceIOThreads %d", io.Minimum, io.Maximum, MaxDeviceIOThreads)
	}
	if got := at(t, &socket, "connect", "address").Pattern; got != AddressPattern {
		t.Errorf("connect.address pattern = %s; want AddressPattern %s", got, AddressPattern)
	}
}
