package controllers

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// maxObjectBytes bounds the JSON encoding of every object the operator
// writes: each rendered child, and the topology with the status it would
// get. The API server refuses ConfigMap data over 1 MiB (the whole object is
// larger than its data, so the bound is conservative for ConfigMaps) and
// etcd refuses requests over 1.5 MiB by default; 1 MiB leaves room for
// what the server adds (managedFields, a workload's status).
const maxObjectBytes = 1 << 20

// preflight finds, without asking the API server, what it would refuse for
// certain: two components rendering one object (they would overwrite each
// other on every reconcile), a child too large to store, or a status that
// would make the topology too large. Nothing is written when it reports an
// error.
func preflight(t *zmqv1.ZMQTopology, desired []render.Object, clusterDomain string) field.ErrorList {
	errs := duplicateChildren(t, desired)
	for _, obj := range desired {
		raw, err := json.Marshal(obj.Apply)
		if err != nil {
			continue // the apply reports encoding errors
		}
		if len(raw) > maxObjectBytes {
			errs = append(errs, field.Invalid(componentPath(t, obj.Component), field.OmitValueType{},
				fmt.Sprintf("%s %s would be %d bytes, over the %d bytes the operator writes in one object (the API server refuses ConfigMap data over 1 MiB and etcd requests over 1.5 MiB): bind or connect fewer sockets or replicas",
					obj.Kind, obj.Name, len(raw), maxObjectBytes)))
		}
	}
	if n := statusBytes(t, clusterDomain); n > maxObjectBytes {
		errs = append(errs, field.Invalid(field.NewPath("spec", "components"), field.OmitValueType{},
			fmt.Sprintf("the topology with its status would be %d bytes, over the %d bytes the operator writes in one object: status lists every component, link and per-replica endpoint; split the topology",
				n, maxObjectBytes)))
	}
	return errs
}

// duplicateChildren reports components whose children have the same kind
// and name as a child of an earlier component (component "x" with a
// headless Service and component "x-headless" both render "<t>-x-headless").
func duplicateChildren(t *zmqv1.ZMQTopology, desired []render.Object) field.ErrorList {
	var errs field.ErrorList
	first := make(map[string]string, len(desired))
	for _, obj := range desired {
		key := string(obj.Kind) + "/" + obj.Name
		owner, taken := first[key]
		if !taken {
			first[key] = obj.Component
			continue
		}
		errs = append(errs, field.Invalid(componentPath(t, obj.Component).Child("name"), obj.Component,
			fmt.Sprintf("renders %s %s, which component %q renders too", obj.Kind, obj.Name, owner)))
	}
	return errs
}

// statusBytes is the size of the topology's JSON encoding once its status
// lists every component, link and endpoint, as computeStatus writes them.
func statusBytes(t *zmqv1.ZMQTopology, clusterDomain string) int {
	c := t.DeepCopy()
	computeStatus(&scope{topology: c, workloads: map[string]workload{}}, clusterDomain)
	raw, err := json.Marshal(c)
	if err != nil {
		return 0
	}
	return len(raw)
}

func componentPath(t *zmqv1.ZMQTopology, component string) *field.Path {
	return field.NewPath("spec", "components").Index(componentIndex(t, component))
}
