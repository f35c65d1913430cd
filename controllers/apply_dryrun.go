package controllers

import "github.com/zmq-operator/zmq-operator/controllers/render"

// dryRunPlan says which of the changes the apply phase dry-runs before it
// writes any of them (true at a change's index), so that the API server's
// refusal of any writes nothing that could disturb what runs:
//
//   - a single change is not dry-run: its write is just as atomic;
//   - while the topology is being created (every change is a creation and
//     every desired workload is among them, so none of its pods runs yet),
//     only the workloads are dry-run. They are what starts pods, and they
//     are written last (byStage), after the other children, whose refusal
//     stops the apply before the workloads. So a refused spec still
//     starts no pod, and creating a topology costs one request per child
//     plus one per workload rather than two per child;
//   - otherwise every change is dry-run: an update may have running pods
//     behind it, and a half-applied change would disturb them.
//
// A change that was not dry-run and is refused is a refusal of the spec
// (InvalidSpec): nothing that runs was changed before it.
func dryRunPlan(changes []change, desired []render.Object) []bool {
	plan := make([]bool, len(changes))
	if len(changes) <= 1 {
		return plan
	}
	creating := creatingTopology(changes, desired)
	for i, c := range changes {
		plan[i] = !creating || c.obj.Kind.IsWorkload()
	}
	return plan
}

// creatingTopology reports whether changes create the topology from
// nothing: each is a creation, and each desired workload is created.
func creatingTopology(changes []change, desired []render.Object) bool {
	created := make(map[string]bool, len(changes))
	for _, c := range changes {
		if c.op != opCreated || c.err != nil {
			return false
		}
		created[string(c.obj.Kind)+"/"+c.obj.Name] = true
	}
	for _, obj := range desired {
		if obj.Kind.IsWorkload() && !created[string(obj.Kind)+"/"+obj.Name] {
			return false
		}
	}
	return true
}
