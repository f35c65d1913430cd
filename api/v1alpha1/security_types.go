package v1alpha1

// SecurityMechanism is a ZMTP security mechanism (RFC 23 §"Authentication
// and Confidentiality"; CURVE is RFC 26).
// +kubebuilder:validation:Enum=NULL;CURVE
type SecurityMechanism string

// The security mechanisms a topology may select.
const (
	// MechanismNull is ZMTP's NULL mechanism: no authentication, no
	// encryption (libzmq's default).
	MechanismNull SecurityMechanism = "NULL"
	// MechanismCurve is CurveZMQ (RFC 26): every connection is encrypted,
	// every bound socket is a CURVE server that accepts only the public
	// keys of the components declared to connect to it (and its own, for
	// its sidecar's readiness probe), and every connecting socket checks
	// the server key of its target.
	MechanismCurve SecurityMechanism = "CURVE"
)

// SecuritySpec is a topology's data-plane security.
type SecuritySpec struct {
	// mechanism is NULL (the default) or CURVE. With CURVE the operator
	// generates a key pair per component in a Secret it owns
	// (<topology>-<component>-curve, data secret-key and public-key, Z85),
	// mounts it with the peers' public keys into the component's pods
	// (under /etc/zmq-curve) and names the key files in every socket's
	// security block of /etc/zmq/topology.json and its ZMQ_<SOCKET>_CURVE_*
	// environment variables. Sockets that connect to an external address
	// stay NULL. Annotating a component's Secret with
	// zmq.topology.dev/rotate=<any new value> rotates its key (README,
	// "Key rotation").
	// +optional
	// +kubebuilder:default=NULL
	Mechanism SecurityMechanism `json:"mechanism,omitempty"`
}

// IsCurve reports whether the topology selects CURVE.
func (t *ZMQTopology) IsCurve() bool {
	return t.Spec.Security != nil && t.Spec.Security.Mechanism == MechanismCurve
}

// Annotations on a component's CURVE key Secret.
const (
	// AnnotationRotate requests a key rotation: set it to a value it has
	// not had before (a timestamp, say). The operator then generates a new
	// key pair, keeps the old public key accepted until every pod using
	// the key has rolled, and records the value in AnnotationRotated.
	AnnotationRotate = "zmq.topology.dev/rotate"
	// AnnotationRotated is the value of AnnotationRotate the operator last
	// acted on; set by the operator.
	AnnotationRotated = "zmq.topology.dev/rotated"
)
