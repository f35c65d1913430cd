package v1alpha1

// This file owns the names the operator derives from a topology and the
// names it reserves in every pod. The render package builds children with
// these functions and Validate checks them, so the two cannot drift apart.
// The CRD's markers repeat the limits and reserved names as literals (CEL
// cannot read Go constants); names_test.go asserts that they match.

// Name length limits. A component's children are named
// <topology>-<component>[<suffix>], and the longest names derived from
// that base are:
//
//   - the controller-revision-hash label of a StatefulSet's pods,
//     <base>-<hash>, with a hash of up to 10 digits: a label value, at most
//     63 characters, so the base may have at most 52;
//   - the headless Service <base>-headless: a DNS-1035 label (63), so at
//     most 54;
//   - a StatefulSet pod, <base>-<ordinal> with ordinals up to 999
//     (replicas <= 1000): its hostname is a DNS label (63), so at most 59.
//
// So the base may have at most 52 characters. 30 + 1 + 20 = 51 keeps every
// derived name valid with a character to spare.
const (
	// MaxTopologyNameLength bounds metadata.name of a ZMQTopology.
	MaxTopologyNameLength = 30
	// MaxComponentNameLength bounds spec.components[].name.
	MaxComponentNameLength = 20
	// MaxSocketNameLength bounds a socket name: it names a container port,
	// an IANA service name of at most 15 characters.
	MaxSocketNameLength = 15
	// MaxBaseNameLength is the longest <topology>-<component> for which
	// every derived name is valid (see above).
	MaxBaseNameLength = 52
)

// Suffixes of the names of a component's children. The workload and the
// ClusterIP Service take the bare <topology>-<component>.
const (
	HeadlessServiceSuffix = "-headless"
	ConfigMapSuffix       = "-zmq"
	// CurveSecretSuffix names a CURVE component's key pair Secret and
	// CurveKeysSuffix the ConfigMap of the public keys it needs.
	CurveSecretSuffix = "-curve"
	CurveKeysSuffix   = "-curve-keys"
)

// Names the operator gives to what it adds to the pods of a topology. A
// user's template may not use them.
const (
	// SidecarContainerName is the injected zmq-sidecar container.
	SidecarContainerName = "zmq-sidecar"
	// SidecarPortName names SidecarPort on the sidecar container.
	SidecarPortName = "zmq-metrics"
	// DeviceContainerName is the container of a device's pod.
	DeviceContainerName = "device"
	// DeviceMetricsPortName names DeviceMetricsPort on a device's
	// container.
	DeviceMetricsPortName = "zmq-device"
	// ConfigVolumeName is the pod volume holding the component's resolved
	// sockets (the ConfigMap).
	ConfigVolumeName = "zmq-topology"
	// CurveVolumePrefix starts the names of the volumes holding a CURVE
	// component's keys.
	CurveVolumePrefix = "zmq-curve-"
)

// ReservedPortNames are the container port names the operator adds besides
// the sockets' own; neither sockets nor containers of a template may use
// them.
var ReservedPortNames = []string{SidecarPortName, DeviceMetricsPortName}

// ObjectName is the name of a component's workload and ClusterIP Service:
// <topology>-<component>.
func ObjectName(topology, component string) string {
	return topology + "-" + component
}

// HeadlessServiceName is the name of the headless Service that gives each
// replica of a StatefulSet component a DNS name.
func HeadlessServiceName(topology, component string) string {
	return ObjectName(topology, component) + HeadlessServiceSuffix
}

// ConfigMapName is the name of the ConfigMap holding a component's
// resolved sockets.
func ConfigMapName(topology, component string) string {
	return ObjectName(topology, component) + ConfigMapSuffix
}

// NetworkPolicyName is the name of the NetworkPolicy guarding a
// component's pods: <topology>-<component>, like its workload (a different
// kind, so the names do not collide).
func NetworkPolicyName(topology, component string) string {
	return ObjectName(topology, component)
}

// +kubebuilder:object:generate=false

// ChildName is the identity of an object derived from a component, within
// the topology's namespace. Workloads of either kind share Kind
// "Workload": a component's workload changes kind when it scales.
type ChildName struct {
	Kind string
	Name string
}

// ChildNames lists every object a component may own, whatever its current
// replicas, so that a collision is found before scaling would create it.
// StatefulSet pods (<workload>-<ordinal>) are left out: an ordinal has no
// '-', so two components' pod names never meet.
func ChildNames(topology, component string) []ChildName {
	return []ChildName{
		{Kind: "Workload", Name: ObjectName(topology, component)},
		{Kind: "Service", Name: ObjectName(topology, component)},
		{Kind: "Service", Name: HeadlessServiceName(topology, component)},
		{Kind: "ConfigMap", Name: ConfigMapName(topology, component)},
		{Kind: "NetworkPolicy", Name: NetworkPolicyName(topology, component)},
	}
}

// CurveSecretName is the name of the Secret holding a component's CURVE
// key pair.
func CurveSecretName(topology, component string) string {
	return ObjectName(topology, component) + CurveSecretSuffix
}

// CurveKeysConfigMapName is the name of the ConfigMap holding the public
// keys a CURVE component needs: its servers' and its allowed clients'.
func CurveKeysConfigMapName(topology, component string) string {
	return ObjectName(topology, component) + CurveKeysSuffix
}
