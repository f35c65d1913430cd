package v1alpha1

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The name and address rules. The CRD enforces each of them at admission
// with OpenAPI and CEL markers; Validate repeats them so that a topology
// stored before a rule existed is reported as invalid instead of failing
// when its children are written. The envtest suite checks that both layers
// agree on names at every limit.

// AddressPattern is the form of connect.address: tcp://<host>:<port>, where
// host is a DNS name (labels of 1-63 letters, digits and '-', not starting
// or ending with '-') or an IPv4 literal, or an IPv6 literal in brackets.
// The CRD's Pattern marker on ConnectSpec.Address repeats it.
const AddressPattern = `^tcp://([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$`

var addressRE = regexp.MustCompile(AddressPattern)

// numericHost matches a host made of digits and dots only, which resolvers
// read as an IPv4 address; it must then be a valid one.
var numericHost = regexp.MustCompile(`^[0-9.]+$`)

// validateTopologyName checks metadata.name: it prefixes the name of every
// child, among them Services, which must be DNS-1035 labels.
func validateTopologyName(name string) field.ErrorList {
	path := field.NewPath("metadata", "name")
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1035Label(name) {
		errs = append(errs, field.Invalid(path, name, msg+" (it prefixes the names of child objects, such as Services)"))
	}
	if len(name) > MaxTopologyNameLength {
		errs = append(errs, field.TooLong(path, name, MaxTopologyNameLength))
	}
	return errs
}

// validateComponentName checks a component name: a DNS-1035 label short
// enough for every derived name.
func validateComponentName(name string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1035Label(name) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	if len(name) > MaxComponentNameLength {
		errs = append(errs, field.TooLong(path, name, MaxComponentNameLength))
	}
	return errs
}

// validateSocketName checks a socket name: it names a container port and a
// Service port (an IANA service name: at most 15 characters, no "--"), and
// starts with a letter so that ZMQ_<NAME>_* reads well.
func validateSocketName(name string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1035Label(name) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	for _, msg := range validation.IsValidPortName(name) {
		errs = append(errs, field.Invalid(path, name, msg+" (the socket name is a container port name)"))
	}
	for _, r := range ReservedPortNames {
		if name == r {
			errs = append(errs, field.Invalid(path, name, fmt.Sprintf("port name %q is reserved for the operator", r)))
		}
	}
	return errs
}

// validateAddress checks connect.address: tcp://<host>:<port> with a DNS
// name or IP literal as host and a port in 1..65535.
func validateAddress(addr string, path *field.Path) field.ErrorList {
	if !addressRE.MatchString(addr) {
		return field.ErrorList{field.Invalid(path, addr, "must be tcp://<host>:<port> with a DNS name, an IPv4 address or a bracketed IPv6 address as host")}
	}
	rest := strings.TrimPrefix(addr, "tcp://")
	colon := strings.LastIndexByte(rest, ':')
	host, portText := rest[:colon], rest[colon+1:]
	var errs field.ErrorList
	if port, _ := strconv.Atoi(portText); port < 1 || port > 65535 {
		errs = append(errs, field.Invalid(path, addr, "the port must be between 1 and 65535"))
	}
	switch {
	case strings.HasPrefix(host, "["):
		if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err != nil || !ip.Is6() || ip.Is4In6() {
			errs = append(errs, field.Invalid(path, addr, "the host in brackets must be an IPv6 address"))
		}
	case numericHost.MatchString(host):
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is4() {
			errs = append(errs, field.Invalid(path, addr, "a numeric host must be an IPv4 address"))
		}
	}
	return errs
}

// validateChildNames reports components whose children would share a
// name: component x's headless Service <t>-x-headless is also the ClusterIP
// Service of a component named x-headless. Both would own, and rewrite, one
// object. The later component is reported.
func validateChildNames(t *ZMQTopology) field.ErrorList {
	owner := map[ChildName]string{}
	var errs field.ErrorList
	for i, c := range t.Spec.Components {
		for _, n := range ChildNames(t.Name, c.Name) {
			if other, dup := owner[n]; dup && other != c.Name {
				errs = append(errs, field.Invalid(field.NewPath("spec", "components").Index(i).Child("name"), c.Name,
					fmt.Sprintf("its %s %q is also a child of component %q; rename one of them", n.Kind, n.Name, other)))
				continue
			}
			owner[n] = c.Name
		}
	}
	return errs
}
