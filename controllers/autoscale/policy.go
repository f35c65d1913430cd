package autoscale

import (
	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// PolicyFor returns the backlog autoscaling policy of a component, and
// false when the component is not scaled on backlog (autoscaling unset or
// another mode).
func PolicyFor(c *zmqv1.Component) (Policy, bool) {
	return Policy{}, false // filled in with the API's mode Backlog
}
