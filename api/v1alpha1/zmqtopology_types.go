package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SocketType is a ZeroMQ socket type as named by ZMTP 3.1 (RFC 37).
// +kubebuilder:validation:Enum=PAIR;PUB;SUB;XPUB;XSUB;PUSH;PULL;REQ;REP;DEALER;ROUTER
type SocketType string

// The ZeroMQ socket types a component may declare.
const (
	PAIR   SocketType = "PAIR"
	PUB    SocketType = "PUB"
	SUB    SocketType = "SUB"
	XPUB   SocketType = "XPUB"
	XSUB   SocketType = "XSUB"
	PUSH   SocketType = "PUSH"
	PULL   SocketType = "PULL"
	REQ    SocketType = "REQ"
	REP    SocketType = "REP"
	DEALER SocketType = "DEALER"
	ROUTER SocketType = "ROUTER"
)

// DeviceType names an operator-managed ZeroMQ proxy.
// +kubebuilder:validation:Enum=Forwarder;Streamer;Queue
type DeviceType string

// The operator-managed devices.
const (
	// Forwarder proxies pub/sub: an XSUB frontend that publishers connect to
	// and an XPUB backend that subscribers connect to; subscriptions travel
	// upstream.
	Forwarder DeviceType = "Forwarder"
	// Streamer proxies a pipeline: a PULL frontend and a PUSH backend.
	Streamer DeviceType = "Streamer"
	// Queue proxies request/reply: a ROUTER frontend for clients and a DEALER
	// backend for workers.
	Queue DeviceType = "Queue"
)

// ZMQTopologySpec is the desired state of a ZeroMQ topology.
type ZMQTopologySpec struct {
	// paused stops the operator from creating, changing or deleting any child
	// object of this topology (for maintenance). Status is still reported.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// socketDefaults are ZeroMQ socket options applied to every socket of the
	// topology unless the socket overrides them.
	// +optional
	SocketDefaults *SocketOptions `json:"socketDefaults,omitempty"`

	// sidecar configures the ZeroMQ health-check sidecar that the operator
	// injects into every pod of the topology.
	// +optional
	Sidecar *SidecarSpec `json:"sidecar,omitempty"`

	// networkPolicy configures the NetworkPolicies the operator renders for
	// the topology: by default each component that binds gets one that lets
	// only the components declared to connect to a bound socket reach it,
	// and only the operator and the monitoring namespaces reach the sidecar
	// and device metrics ports.
	// +optional
	NetworkPolicy *NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// security selects the ZeroMQ security mechanism of the topology's
	// sockets (see SecuritySpec); unset is NULL.
	// +optional
	Security *SecuritySpec `json:"security,omitempty"`

	// components are the workloads of the topology: applications brought by
	// the user (template) or operator-managed proxies (device). Names are
	// unique.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Components []Component `json:"components"`
}

// Component is one workload of the topology and the ZeroMQ sockets it opens.
// +kubebuilder:validation:XValidation:rule="has(self.template) != has(self.device)",message="exactly one of template or device must be set"
type Component struct {
	// name identifies the component within the topology. It is a DNS-1035
	// label of at most 20 characters and names the component's children
	// (<topology>-<name>, <topology>-<name>-headless, <topology>-<name>-zmq);
	// no two components may derive a child of the same name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// replicas is the number of pods. When the component binds a socket and
	// has more than one replica it runs as a StatefulSet behind a headless
	// Service, so that connecting sockets reach every replica. With
	// autoscaling it is only the count the workload is created with.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Replicas *int32 `json:"replicas,omitempty"`

	// The checks of the template's fields at admission are TemplateRules,
	// which hack/crd-trim writes into the CRD (controller-gen cannot mark
	// core/v1's types); Validate makes the same checks.

	// template is the pod template of a user application. The operator adds
	// the resolved sockets as environment variables (ZMQ_<SOCKET>_TYPE,
	// ZMQ_<SOCKET>_ENDPOINTS, ZMQ_<SOCKET>_BIND and options) to every
	// container and mounts them as JSON at /etc/zmq/topology.json. Exactly one
	// of template and device is set. It needs at least one container and
	// restartPolicy Always (or unset); the container name zmq-sidecar, the
	// volume name zmq-topology and volume names starting with zmq-curve-,
	// the container port 9917 and the port names zmq-metrics and zmq-device
	// are the operator's. It has at most 64 containers, 64 init containers,
	// 64 ports per container and 256 volumes, bounds that let the API server
	// afford checking these rules.
	// +optional
	Template *corev1.PodTemplateSpec `json:"template,omitempty"`

	// device makes this component an operator-managed ZeroMQ proxy run from
	// the operator's sidecar image. Its sockets must be named frontend and
	// backend with the types its device type requires. Exactly one of
	// template and device is set.
	// +optional
	Device *DeviceSpec `json:"device,omitempty"`

	// endpointUpdates says how the component's pods learn that the
	// endpoints of the sockets they connect to changed (a target component
	// scaled). Restart (the default) puts the endpoints in the pod template
	// as ZMQ_<SOCKET>_ENDPOINTS, so a change rolls the pods: right for
	// applications that read only environment variables. Live leaves
	// target endpoints out of the pod template: the pods keep running and
	// the kubelet updates /etc/zmq/topology.json in place (within its sync
	// period plus ConfigMap cache TTL, typically up to 60-90 s), which the
	// application must follow (pkg/zmqsocket does; see the README's "Live
	// endpoints"). Changes of anything else (socket types, options, the
	// target's socket) still roll the pods under Live.
	// +optional
	// +kubebuilder:default=Restart
	EndpointUpdates EndpointUpdatePolicy `json:"endpointUpdates,omitempty"`

	// autoscaling hands the component's replica count to another
	// controller (mode External) or to the operator's backlog autoscaler
	// (mode Backlog). Unset, the operator owns spec.replicas of the workload
	// and sets it from replicas, undoing any other change.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// podDisruptionBudget controls the PodDisruptionBudget the operator
	// renders for the component. Unset means mode Auto.
	// +optional
	PodDisruptionBudget *PodDisruptionBudgetSpec `json:"podDisruptionBudget,omitempty"`

	// sockets are the ZeroMQ sockets the component opens. Names are unique
	// within the component.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Sockets []Socket `json:"sockets"`
}

// DeviceSpec describes an operator-managed ZeroMQ proxy.
type DeviceSpec struct {
	// type is the proxy: Forwarder (frontend XSUB, backend XPUB), Streamer
	// (frontend PULL, backend PUSH) or Queue (frontend ROUTER, backend
	// DEALER).
	// +required
	Type DeviceType `json:"type"`

	// resources of the device container. Defaults to requests of 50m CPU and
	// 32Mi memory and a 256Mi memory limit.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// ioThreads is how many threads run the device's Go code at once
	// (GOMAXPROCS), as libzmq's ZMQ_IO_THREADS: 0 to 64, default 1. One
	// thread keeps the hand-offs between the device's readers, forwarding
	// loop and writers on one core, which used the least CPU per message
	// in the project's benchmarks; raise it for a device with CPU of its
	// own that forwards more than one core can. 0 leaves Go's default: the
	// container's CPU limit rounded up (at least 2), else every CPU of the
	// node.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=64
	IOThreads *int32 `json:"ioThreads,omitempty"`

	// template places the device's pods: its fields are merged into the pod
	// template the operator renders for the device. Without
	// spec.topologySpreadConstraints, a device with more than one replica
	// gets a soft spread over nodes (kubernetes.io/hostname, ScheduleAnyway).
	// +optional
	Template *DevicePodTemplate `json:"template,omitempty"`
}

// DevicePodTemplate is the part of a device's pod template a user may set.
type DevicePodTemplate struct {
	// spec holds the placement fields of the device's pods.
	// +optional
	Spec DevicePodSpec `json:"spec,omitempty"`
}

// DevicePodSpec are the scheduling fields of a device's pods, with the
// meaning they have in a PodSpec.
type DevicePodSpec struct {
	// affinity is the pods' node affinity and pod (anti-)affinity.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// tolerations let the pods schedule onto nodes with matching taints.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// nodeSelector restricts the pods to nodes with these labels.
	// +optional
	// +mapType=atomic
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// priorityClassName is the PriorityClass of the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// topologySpreadConstraints spread the pods over topology domains. When
	// set they replace the operator's default soft spread over nodes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// imagePullSecrets name Secrets for pulling the device image, before the
	// operator's default ones (--image-pull-secrets).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
}

// AutoscalingMode names who owns a component's replica count.
// +kubebuilder:validation:Enum=External;Backlog
type AutoscalingMode string

// The autoscaling modes.
const (
	// AutoscalingExternal leaves spec.replicas of the component's workload
	// to another controller (a HorizontalPodAutoscaler, KEDA, kubectl
	// scale) through the workload's scale subresource.
	AutoscalingExternal AutoscalingMode = "External"
	// AutoscalingBacklog has the operator scale the component itself, on
	// the backlog its sidecars report (README, "Backlog autoscaling").
	AutoscalingBacklog AutoscalingMode = "Backlog"
)

// AutoscalingSpec says who scales a component, and for mode Backlog how.
// +kubebuilder:validation:XValidation:rule="self.mode != 'Backlog' || (has(self.maxReplicas) && has(self.targetBacklogPerReplica))",message="mode Backlog needs maxReplicas and targetBacklogPerReplica"
// +kubebuilder:validation:XValidation:rule="self.mode == 'Backlog' || !(has(self.minReplicas) || has(self.maxReplicas) || has(self.targetBacklogPerReplica) || has(self.stabilizationWindowSeconds) || has(self.scaleUpReplicasPerPeriod) || has(self.scaleDownReplicasPerPeriod))",message="minReplicas, maxReplicas, targetBacklogPerReplica, stabilizationWindowSeconds, scaleUpReplicasPerPeriod and scaleDownReplicasPerPeriod apply to mode Backlog only"
// +kubebuilder:validation:XValidation:rule="!has(self.maxReplicas) || !has(self.minReplicas) || self.minReplicas <= self.maxReplicas",message="minReplicas must not exceed maxReplicas",fieldPath=".maxReplicas"
type AutoscalingSpec struct {
	// mode is External or Backlog. With either, the operator stops owning
	// spec.replicas of the component's Deployment (its server-side apply
	// leaves the field out) and replicas is only the count the Deployment
	// is created with; readiness and status use the Deployment's own
	// spec.replicas. The component runs as a Deployment, and no other
	// component may connect to its bound sockets: their endpoints list
	// every replica, which the operator could no longer follow.
	//
	// External: an HPA or KEDA targeting that Deployment keeps the count it
	// sets.
	//
	// Backlog: the operator's autoscaler sets the count through the
	// Deployment's scale subresource, every --autoscale-period (15 s by
	// default), from the component's backlog: the bytes queued in the
	// kernel towards its connecting PULL, REP and DEALER sockets (the
	// upstream binder's send queues and the replicas' receive queues, as
	// the sidecars report them). It aims at targetBacklogPerReplica per
	// replica like an HPA: a count within 10% of the target does not
	// change, scale-up and scale-down are rate-limited per period, and a
	// scale-down goes only as low as the highest count recommended within
	// the stabilization window. The component needs such a socket and may
	// not be a device.
	// +required
	Mode AutoscalingMode `json:"mode"`

	// minReplicas is the fewest replicas mode Backlog runs (default 1).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the most replicas mode Backlog runs; required with it.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas *int32 `json:"maxReplicas,omitempty"`

	// targetBacklogPerReplica is the backlog, in bytes, one replica should
	// carry (mode Backlog; required with it, more than 0), such as 64Ki.
	// The kernel queues of one connection hold a few hundred kilobytes at
	// most (net.ipv4.tcp_rmem and tcp_wmem), so a target above that is
	// never reached.
	// +optional
	TargetBacklogPerReplica *resource.Quantity `json:"targetBacklogPerReplica,omitempty"`

	// stabilizationWindowSeconds: mode Backlog scales down only to the
	// highest count recommended within this many seconds (default 300, as
	// the HPA; 0 scales down at once).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	StabilizationWindowSeconds *int32 `json:"stabilizationWindowSeconds,omitempty"`

	// scaleUpReplicasPerPeriod is the most replicas mode Backlog adds in
	// one period (default: the greater of 4 and the current count, as the
	// HPA).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	ScaleUpReplicasPerPeriod *int32 `json:"scaleUpReplicasPerPeriod,omitempty"`

	// scaleDownReplicasPerPeriod is the most replicas mode Backlog removes
	// in one period (default: all of them down to minReplicas; the
	// stabilization window is the brake).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	ScaleDownReplicasPerPeriod *int32 `json:"scaleDownReplicasPerPeriod,omitempty"`
}

// PodDisruptionBudgetMode says whether a component gets a
// PodDisruptionBudget.
// +kubebuilder:validation:Enum=Auto;Disabled
type PodDisruptionBudgetMode string

// The PodDisruptionBudget modes.
const (
	// PodDisruptionBudgetAuto renders a PodDisruptionBudget with
	// maxUnavailable 1 when the component has more than one replica or
	// external autoscaling.
	PodDisruptionBudgetAuto PodDisruptionBudgetMode = "Auto"
	// PodDisruptionBudgetDisabled renders none (and deletes the one
	// rendered before), for example to bring your own.
	PodDisruptionBudgetDisabled PodDisruptionBudgetMode = "Disabled"
)

// PodDisruptionBudgetSpec configures a component's PodDisruptionBudget.
type PodDisruptionBudgetSpec struct {
	// mode is Auto (default: a PodDisruptionBudget <topology>-<component>
	// with maxUnavailable 1 whenever the component has more than one
	// replica or external autoscaling, so a node drain evicts its pods one
	// at a time) or Disabled (none).
	// +optional
	// +kubebuilder:default=Auto
	Mode PodDisruptionBudgetMode `json:"mode,omitempty"`
}

// Socket is one ZeroMQ socket of a component. It either binds a port or
// connects to a bound socket.
// +kubebuilder:validation:XValidation:rule="has(self.bind) != has(self.connect)",message="exactly one of bind or connect must be set"
type Socket struct {
	// name identifies the socket within its component. It names the
	// container and Service port (an IANA service name: at most 15
	// characters, no "--") and, upper-cased with '-' turned into '_', the
	// environment variables ZMQ_<NAME>_*. zmq-metrics and zmq-device are
	// the operator's port names.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('--')",message="a socket name may not contain '--': it names a container port (an IANA service name)"
	// +kubebuilder:validation:XValidation:rule="!(self in ['zmq-metrics', 'zmq-device'])",message="the port names zmq-metrics and zmq-device are reserved for the operator"
	Name string `json:"name"`

	// type is the ZeroMQ socket type: PAIR, PUB, SUB, XPUB, XSUB, PUSH, PULL,
	// REQ, REP, DEALER or ROUTER. A connecting socket and the socket it
	// targets must be ZMTP peers (RFC 37): PAIR-PAIR, PUB-SUB, PUB-XSUB,
	// XPUB-SUB, XPUB-XSUB, PUSH-PULL, REQ-REP, REQ-ROUTER, DEALER-REP,
	// DEALER-ROUTER, DEALER-DEALER or ROUTER-ROUTER.
	// +required
	Type SocketType `json:"type"`

	// bind makes the socket listen on a TCP port of every pod of the
	// component. Exactly one of bind and connect is set.
	// +optional
	Bind *BindSpec `json:"bind,omitempty"`

	// connect makes the socket connect to a bound socket of a component of
	// this topology, or to an address outside it. Exactly one of bind and
	// connect is set.
	// +optional
	Connect *ConnectSpec `json:"connect,omitempty"`

	// options override socketDefaults for this socket.
	// +optional
	Options *SocketOptions `json:"options,omitempty"`
}

// BindSpec is where a socket listens.
type BindSpec struct {
	// port is the TCP port the socket binds on all interfaces of the pod.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// allowFrom lets clients outside the topology connect to this socket
	// when the topology's NetworkPolicies are on: pods chosen by pod and
	// namespace selectors, or CIDRs (ipBlock), as in a NetworkPolicy's
	// ingress rule. The components of the topology that connect to the
	// socket are always allowed; nothing else is unless listed here.
	// Ignored when spec.networkPolicy.enabled is false.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(p, has(p.podSelector) || has(p.namespaceSelector) || has(p.ipBlock))",message="a peer sets podSelector, namespaceSelector or ipBlock"
	// +kubebuilder:validation:XValidation:rule="self.all(p, !has(p.ipBlock) || (!has(p.podSelector) && !has(p.namespaceSelector)))",message="ipBlock cannot be combined with podSelector or namespaceSelector"
	AllowFrom []networkingv1.NetworkPolicyPeer `json:"allowFrom,omitempty"`
}

// ConnectSpec is what a socket connects to: either component and socket, or
// address.
// +kubebuilder:validation:XValidation:rule="has(self.address) != has(self.component)",message="exactly one of component or address must be set"
// +kubebuilder:validation:XValidation:rule="has(self.component) == has(self.socket)",message="component and socket must be set together"
type ConnectSpec struct {
	// component is the name of the component of this topology whose bound
	// socket this socket connects to.
	// +optional
	// +kubebuilder:validation:MaxLength=20
	Component string `json:"component,omitempty"`

	// socket is the name of the bound socket within component.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	Socket string `json:"socket,omitempty"`

	// address is a ZeroMQ endpoint outside the topology, tcp://<host>:<port>:
	// host is a DNS name, an IPv4 address or an IPv6 address in brackets,
	// and port is 1-65535.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^tcp://([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$`
	// +kubebuilder:validation:XValidation:rule="!self.matches(':[0-9]{1,5}$') || (int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535)",message="the port of address must be between 1 and 65535"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('tcp://') || self.lastIndexOf(':') < 6 || (self.substring(6, self.lastIndexOf(':')).startsWith('[') ? (self.substring(6, self.lastIndexOf(':')).endsWith(']') && isIP(self.substring(7, self.lastIndexOf(':') - 1)) && ip(self.substring(7, self.lastIndexOf(':') - 1)).family() == 6) : (!self.substring(6, self.lastIndexOf(':')).matches('^[0-9.]+$') || (isIP(self.substring(6, self.lastIndexOf(':'))) && ip(self.substring(6, self.lastIndexOf(':'))).family() == 4)))",message="the host of address must be a DNS name, an IPv4 address, or an IPv6 address in brackets"
	Address string `json:"address,omitempty"`
}

// NetworkPolicySpec configures the NetworkPolicies of a topology.
type NetworkPolicySpec struct {
	// enabled renders, for every component that binds a socket, a
	// NetworkPolicy named <topology>-<component> that admits ingress to the
	// component's pods only on its bound ports from the pods of the
	// components declared to connect to them (and bind.allowFrom), and on
	// the sidecar and device metrics ports from the operator and the
	// monitoring namespaces. false removes them: any pod may then connect
	// to the bound sockets (ZeroMQ's NULL mechanism authenticates no one).
	// Default true.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`
}

// NetworkPoliciesEnabled reports whether the topology's NetworkPolicies
// are rendered: unless spec.networkPolicy.enabled is false.
func (t *ZMQTopology) NetworkPoliciesEnabled() bool {
	np := t.Spec.NetworkPolicy
	return np == nil || np.Enabled == nil || *np.Enabled
}

// SocketOptions are ZeroMQ socket options. Unset options keep the ZeroMQ
// library's defaults. They reach the application as environment variables
// named after the libzmq options (ZMQ_<SOCKET>_SNDHWM, ...).
type SocketOptions struct {
	// sndhwm is the send high-water mark in messages per peer (ZMQ_SNDHWM);
	// 0 means no limit.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SndHWM *int32 `json:"sndhwm,omitempty"`

	// rcvhwm is the receive high-water mark in messages per peer
	// (ZMQ_RCVHWM); 0 means no limit.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RcvHWM *int32 `json:"rcvhwm,omitempty"`

	// lingerMillis is how long unsent messages are kept after close
	// (ZMQ_LINGER); -1 waits forever.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	LingerMillis *int32 `json:"lingerMillis,omitempty"`

	// heartbeat configures ZMTP 3.1 PING/PONG heartbeats.
	// +optional
	Heartbeat *HeartbeatOptions `json:"heartbeat,omitempty"`

	// tcpKeepalive configures TCP keepalive on the socket's connections.
	// +optional
	TCPKeepalive *TCPKeepaliveOptions `json:"tcpKeepalive,omitempty"`

	// connectTimeoutMillis bounds one connect attempt of a connecting
	// socket, name resolution included (ZMQ_CONNECT_TIMEOUT); when it
	// expires the socket retries after the reconnect interval, resolving
	// the name again. 0 leaves it to the kernel's SYN retries (about two
	// minutes). Default 3000 for the operator's devices and pkg/zmtp;
	// libzmq's default is 0.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ConnectTimeoutMillis *int32 `json:"connectTimeoutMillis,omitempty"`

	// reconnectIntervalMillis is the first wait before reconnecting
	// (ZMQ_RECONNECT_IVL); it doubles after each failure up to
	// reconnectIntervalMaxMillis. Default 100.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ReconnectIntervalMillis *int32 `json:"reconnectIntervalMillis,omitempty"`

	// reconnectIntervalMaxMillis caps the doubling reconnect interval
	// (ZMQ_RECONNECT_IVL_MAX); 0 means no doubling. Default 5000 for the
	// operator's devices and pkg/zmtp (libzmq's default is 0).
	// +optional
	// +kubebuilder:validation:Minimum=0
	ReconnectIntervalMaxMillis *int32 `json:"reconnectIntervalMaxMillis,omitempty"`

	// maxMsgSize is the largest message, in bytes (sum of its frames), the
	// socket accepts (ZMQ_MAXMSGSIZE); a peer sending a larger one is
	// disconnected and that message is lost (devices count it in
	// zmq_device_oversize_disconnects_total). -1 means no limit. Default
	// 67108864 (64 MiB) for the operator's devices and pkg/zmtp; libzmq's
	// default is -1.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxMsgSize *int64 `json:"maxMsgSize,omitempty"`
}

// HeartbeatOptions configures ZMTP heartbeats (ZMQ_HEARTBEAT_*).
// +kubebuilder:validation:XValidation:rule="!has(self.timeoutMillis) || !has(self.intervalMillis) || self.timeoutMillis >= self.intervalMillis",message="timeoutMillis must not be shorter than intervalMillis"
type HeartbeatOptions struct {
	// intervalMillis is the time between PINGs (ZMQ_HEARTBEAT_IVL).
	// +optional
	// +kubebuilder:validation:Minimum=1
	IntervalMillis *int32 `json:"intervalMillis,omitempty"`

	// timeoutMillis is how long to wait for traffic after a PING before the
	// connection is dropped (ZMQ_HEARTBEAT_TIMEOUT).
	// +optional
	// +kubebuilder:validation:Minimum=1
	TimeoutMillis *int32 `json:"timeoutMillis,omitempty"`

	// ttlMillis asks the peer to drop the connection after this long without
	// traffic (ZMQ_HEARTBEAT_TTL, sent in tenths of a second).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=6553599
	TTLMillis *int32 `json:"ttlMillis,omitempty"`
}

// TCPKeepaliveOptions configures TCP keepalive (ZMQ_TCP_KEEPALIVE_*).
type TCPKeepaliveOptions struct {
	// enabled turns TCP keepalive on or off (ZMQ_TCP_KEEPALIVE).
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// idleSeconds before the first keepalive probe (ZMQ_TCP_KEEPALIVE_IDLE).
	// +optional
	// +kubebuilder:validation:Minimum=1
	IdleSeconds *int32 `json:"idleSeconds,omitempty"`

	// intervalSeconds between keepalive probes (ZMQ_TCP_KEEPALIVE_INTVL).
	// +optional
	// +kubebuilder:validation:Minimum=1
	IntervalSeconds *int32 `json:"intervalSeconds,omitempty"`

	// count of unanswered probes before the connection is dropped
	// (ZMQ_TCP_KEEPALIVE_CNT).
	// +optional
	// +kubebuilder:validation:Minimum=1
	Count *int32 `json:"count,omitempty"`
}

// SidecarPort is the port of the injected sidecar's /readyz, /healthz and
// /metrics endpoint, in every pod of a topology; sockets cannot bind it.
const SidecarPort = 9917

// DeviceMetricsPort is the port of a device's /metrics; device sockets
// cannot bind it.
const DeviceMetricsPort = 9918

// SidecarSpec configures the injected ZeroMQ health-check sidecar.
type SidecarSpec struct {
	// probeIntervalSeconds is how often the sidecar probes the component's
	// bound sockets and its peers.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	ProbeIntervalSeconds *int32 `json:"probeIntervalSeconds,omitempty"`

	// resources of the sidecar container. Defaults to requests of 10m CPU and
	// 16Mi memory and a 64Mi memory limit.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ZMQTopologyStatus is the observed state of a ZeroMQ topology.
type ZMQTopologyStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready (every component fully rolled out and available,
	// and the spec valid), Progressing (a rollout is under way), Degraded
	// (something that should work does not), and kstatus' Reconciling (the
	// operator is still working towards the spec) and Stalled (it cannot
	// make progress: invalid or refused spec, or a child that keeps
	// failing).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// componentsReady is "<ready>/<total>" components, for kubectl get.
	// +optional
	ComponentsReady string `json:"componentsReady,omitempty"`

	// linksReady is "<ready>/<total>" links between components, for kubectl
	// get.
	// +optional
	LinksReady string `json:"linksReady,omitempty"`

	// patterns lists the ZeroMQ patterns of the topology's links, such as
	// "PUSH-PULL,PUB-SUB".
	// +optional
	Patterns string `json:"patterns,omitempty"`

	// components is the observed state of each component.
	// +optional
	// +listType=map
	// +listMapKey=name
	Components []ComponentStatus `json:"components,omitempty"`

	// links is the observed state of each connection between two components
	// of the topology. Connections to addresses outside the topology are not
	// listed.
	// +optional
	// +listType=atomic
	Links []LinkStatus `json:"links,omitempty"`
}

// ComponentStatus is the observed state of one component.
type ComponentStatus struct {
	// name of the component.
	Name string `json:"name"`

	// kind of the component's workload: Deployment or StatefulSet.
	// +optional
	Kind string `json:"kind,omitempty"`

	// replicas desired.
	Replicas int32 `json:"replicas"`

	// readyReplicas of the workload.
	ReadyReplicas int32 `json:"readyReplicas"`

	// updatedReplicas of the workload, those running the current template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`

	// ready is true when every desired replica is updated, ready and
	// available and no other replica remains.
	Ready bool `json:"ready"`

	// endpoints are the addresses of this component's bound sockets, as
	// <socket>=<endpoint>: one per replica when the component runs as a
	// StatefulSet, otherwise its ClusterIP Service's.
	// +optional
	// +listType=atomic
	Endpoints []string `json:"endpoints,omitempty"`
}

// LinkStatus is the observed state of one connection from a connecting
// socket to the bound socket it targets.
type LinkStatus struct {
	// from is the connecting socket, <component>/<socket>.
	From string `json:"from"`

	// to is the bound socket, <component>/<socket>.
	To string `json:"to"`

	// pattern is the pair of socket types in conventional order, sender or
	// requester first, such as PUSH-PULL.
	Pattern string `json:"pattern"`

	// ready is true when both ends are ready and, once the operator has
	// polled the connecting pods' sidecars, no expected connection is
	// found down. A connection not known yet (a pod that started less
	// than three poll periods ago and has not answered, an endpoint its
	// sidecar has not probed yet) counts neither up nor down, so that a
	// rollout does not flap the link.
	Ready bool `json:"ready"`

	// expectedConnections is the number of connections the link should
	// have: the connecting component's replicas times the endpoints each
	// replica connects to (one per replica of a StatefulSet target, one for
	// a Service). Zero until the sidecars have been polled.
	// +optional
	ExpectedConnections int32 `json:"expectedConnections,omitempty"`

	// connectionsUp is how many of the expected connections the connecting
	// pods' sidecars found up at their last ZMTP probe (connect, greeting,
	// READY with the expected Socket-Type, PING where the pattern allows).
	// +optional
	ConnectionsUp int32 `json:"connectionsUp,omitempty"`

	// rttP50Micros is the median ZMTP round trip of the link's connections,
	// in microseconds: the PING/PONG RTT where the peer answers PING,
	// otherwise the handshake latency. Rounded up to a bucket boundary
	// (1-2-5 series) so that status changes only when the RTT does.
	// +optional
	RTTP50Micros int64 `json:"rttP50Micros,omitempty"`

	// rttMaxMicros is the largest round trip of the link's connections, in
	// microseconds, bucketed like rttP50Micros.
	// +optional
	RTTMaxMicros int64 `json:"rttMaxMicros,omitempty"`

	// reason explains why the link is not ready; when a connection is down
	// it names the broken pair, such as
	// "worker-7c9f/pod-2 -> ventilator-0: connection refused".
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ZMQTopology is a ZeroMQ topology: components, the sockets they bind and
// connect, and the devices between them, reconciled into workloads, Services
// and endpoint configuration.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=zt,categories=zmq
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Components",type=string,JSONPath=`.status.componentsReady`
// +kubebuilder:printcolumn:name="Links",type=string,JSONPath=`.status.linksReady`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Pattern",type=string,priority=1,JSONPath=`.status.patterns`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:validation:XValidation:rule="!format.dns1035Label().validate(self.metadata.name).hasValue()",message="metadata.name must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit (it prefixes the names of child objects, such as Services)"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 30",message="metadata.name must be at most 30 characters (it prefixes the names of child objects)"
type ZMQTopology struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired topology.
	// +required
	Spec ZMQTopologySpec `json:"spec"`

	// status is the observed state of the topology.
	// +optional
	Status ZMQTopologyStatus `json:"status,omitempty"`
}

// ZMQTopologyList is a list of ZMQTopology.
//
// +kubebuilder:object:root=true
type ZMQTopologyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the topologies.
	Items []ZMQTopology `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ZMQTopology{}, &ZMQTopologyList{})
}
