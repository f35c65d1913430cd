// Package render turns a valid ZMQTopology into the child objects it should
// have: one pure builder per kind of child (NetworkPolicy, ConfigMap,
// Service, Deployment, StatefulSet), each a function from the topology to a server-side apply
// configuration, testable without a cluster. endpoints.go owns how ZeroMQ
// endpoints are chosen; labels.go and names.go own label keys and names.
package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// Options are the operator-wide settings rendering depends on.
type Options struct {
	// ClusterDomain is the cluster's DNS domain, used in endpoints.
	ClusterDomain string
	// SidecarImage is the zmq-sidecar image; devices run from it.
	SidecarImage string
	// ImagePullPolicy of operator-provided containers; empty leaves the
	// Kubernetes default.
	ImagePullPolicy corev1.PullPolicy
	// DefaultImagePullSecrets are added to every pod the operator renders,
	// application and device pods alike, after the pod template's own
	// (a name the template already lists is not repeated).
	DefaultImagePullSecrets []string
	// NetworkPolicy holds the peers outside the topology that its
	// NetworkPolicies admit to the sidecar and device metrics ports.
	NetworkPolicy NetworkPolicyOptions

	// CurveKeys are the components' CURVE public keys, read from their
	// Secrets in this reconcile (the only per-reconcile input); used only
	// when the topology selects CURVE (see security.go).
	CurveKeys CurvePublicKeys
}

// Kind is the kind of a child object.
type Kind string

// The kinds of child objects, in the order they are applied.
const (
	KindNetworkPolicy       Kind = "NetworkPolicy"
	KindConfigMap           Kind = "ConfigMap"
	KindService             Kind = "Service"
	KindPodDisruptionBudget Kind = "PodDisruptionBudget"
	KindDeployment          Kind = "Deployment"
	KindStatefulSet         Kind = "StatefulSet"
)

// Kinds lists every kind of child, in apply order: the kinds that start no
// pod first (NetworkPolicies, so that no pod of a topology ever runs
// unprotected; configuration, so that pods find their ConfigMap when they
// start; Services, so that names resolve; disruption budgets before the
// pods they protect), workloads last. The operator writes the first group
// at once, then the workloads.
var Kinds = []Kind{KindNetworkPolicy, KindConfigMap, KindService, KindPodDisruptionBudget, KindDeployment, KindStatefulSet}

// IsWorkload reports whether objects of the kind start pods (Deployments
// and StatefulSets).
func (k Kind) IsWorkload() bool { return k == KindDeployment || k == KindStatefulSet }

// Object is one desired child.
type Object struct {
	Kind      Kind
	Name      string
	Component string
	// Apply is the server-side apply configuration of the object, one of
	// the typed apply configurations of client-go.
	Apply runtime.ApplyConfiguration
	// InitialReplicas is set on a workload whose spec.replicas the
	// operator does not own (Apply leaves it out): the count to create it
	// with and to hand over to ReplicasHandoverManager (see replicas.go).
	InitialReplicas *int32
}

// Render returns every child object of a valid topology, ordered by Kinds
// and then by component order.
func Render(t *zmqv1.ZMQTopology, opts Options) ([]Object, error) {
	byKind := map[Kind][]Object{}
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		cfg := Resolve(t, c, opts.ClusterDomain)
		CurveSockets(t, cfg)

		if t.NetworkPoliciesEnabled() {
			np := NetworkPolicy(t, c, opts.NetworkPolicy)
			byKind[KindNetworkPolicy] = append(byKind[KindNetworkPolicy], Object{Kind: KindNetworkPolicy, Name: *np.Name, Component: c.Name, Apply: np})
		}

		cm, err := ConfigMap(t, c, cfg)
		if err != nil {
			return nil, err
		}
		byKind[KindConfigMap] = append(byKind[KindConfigMap], Object{Kind: KindConfigMap, Name: *cm.Name, Component: c.Name, Apply: cm})

		for _, svc := range Services(t, c) {
			byKind[KindService] = append(byKind[KindService], Object{Kind: KindService, Name: *svc.Name, Component: c.Name, Apply: svc})
		}
		if WantsPodDisruptionBudget(c) {
			pdb := PodDisruptionBudget(t, c)
			byKind[KindPodDisruptionBudget] = append(byKind[KindPodDisruptionBudget], Object{Kind: KindPodDisruptionBudget, Name: *pdb.Name, Component: c.Name, Apply: pdb})
		}

		tpl, err := PodTemplate(t, c, cfg, opts)
		if err != nil {
			return nil, err
		}
		if t.IsCurve() {
			keys, err := CurveKeysConfigMap(t, c, opts.CurveKeys)
			if err != nil {
				return nil, err
			}
			byKind[KindConfigMap] = append(byKind[KindConfigMap], Object{Kind: KindConfigMap, Name: *keys.Name, Component: c.Name, Apply: keys})
			addCurve(t, c, tpl, opts.CurveKeys)
		}
		if PerReplica(c) {
			sts := StatefulSet(t, c, tpl)
			byKind[KindStatefulSet] = append(byKind[KindStatefulSet], Object{Kind: KindStatefulSet, Name: *sts.Name, Component: c.Name, Apply: sts})
		} else {
			d := Deployment(t, c, tpl)
			byKind[KindDeployment] = append(byKind[KindDeployment], Object{Kind: KindDeployment, Name: *d.Name, Component: c.Name, Apply: d, InitialReplicas: InitialReplicas(c)})
		}
	}
	var out []Object
	for _, k := range Kinds {
		out = append(out, byKind[k]...)
	}
	return out, nil
}

// WorkloadKind is the kind of a component's workload.
func WorkloadKind(c *zmqv1.Component) Kind {
	if PerReplica(c) {
		return KindStatefulSet
	}
	return KindDeployment
}

// ownerReference makes the topology the controller of a child, so that
// deleting the topology deletes its children and child events reach it.
func ownerReference(t *zmqv1.ZMQTopology) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(zmqv1.GroupVersion.String()).
		WithKind("ZMQTopology").
		WithName(t.Name).
		WithUID(t.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}
