package v1alpha1

// Condition types of a ZMQTopology.
const (
	// ConditionReady is True when the spec is valid and every component has
	// all desired replicas updated, ready and available.
	ConditionReady = "Ready"
	// ConditionProgressing is True while a component is rolling out.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when the spec is invalid, children cannot be
	// written, or a rolled-out component has lost replicas.
	ConditionDegraded = "Degraded"
)

// Condition reasons of a ZMQTopology.
const (
	// ReasonReady: every component is ready.
	ReasonReady = "AllComponentsReady"
	// ReasonInvalidSpec: Validate reported errors; children are left as they
	// were.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonApplyFailed: a child object could not be written.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonComponentNotReady: the named component is missing replicas.
	ReasonComponentNotReady = "ComponentNotReady"
	// ReasonLinkNotReady: the named link has an end that is not ready.
	ReasonLinkNotReady = "LinkNotReady"
	// ReasonRollingOut: a component's workload is being created or updated.
	ReasonRollingOut = "RollingOut"
	// ReasonRolledOut: no rollout is under way.
	ReasonRolledOut = "RolledOut"
	// ReasonPaused: spec.paused is set; children are not changed.
	ReasonPaused = "Paused"
	// ReasonReplicasUnavailable: a rolled-out component lost replicas.
	ReasonReplicasUnavailable = "ReplicasUnavailable"
	// ReasonAsExpected: the condition's bad state does not hold.
	ReasonAsExpected = "AsExpected"
	// ReasonInternalError: an unexpected error; details are in the
	// operator's log.
	ReasonInternalError = "InternalError"
)
