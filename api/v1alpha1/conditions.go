package v1alpha1

// Condition types of a ZMQTopology.
const (
	// ConditionReady is True when the spec is valid, every component has
	// all desired replicas updated, ready and available, and (once the
	// sidecars have been polled) every link has all its expected
	// connections up; False with ReasonLinkDown when only a link is down.
	ConditionReady = "Ready"
	// ConditionProgressing is True while a component is rolling out.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when the spec is invalid, children cannot be
	// written, a rolled-out component has lost replicas, or a link between
	// ready components has connections down (ReasonLinkDown).
	ConditionDegraded = "Degraded"

	// ConditionReconciling is the kstatus condition of the same name
	// (sigs.k8s.io/cli-utils/pkg/kstatus), with "abnormal-true" polarity:
	// True while the operator is still working towards the spec (a workload
	// being created or rolled out, a workload not yet observed at the
	// generation just written, a failed write about to be retried); False
	// otherwise. kstatus reads True as InProgress. Never True together with
	// ConditionStalled.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is the kstatus condition of the same name, with
	// "abnormal-true" polarity: True when the operator cannot make progress
	// until someone changes the spec or the cluster: the spec is invalid or
	// the API server refused a child (ReasonInvalidSpec), or a child keeps
	// failing (ReasonApplyFailed; still retried with backoff); False
	// otherwise. kstatus reads True as Failed.
	ConditionStalled = "Stalled"
)

// Condition reasons of a ZMQTopology.
const (
	// ReasonReady: every component is ready.
	ReasonReady = "AllComponentsReady"
	// ReasonInvalidSpec: Validate reported errors, or the API server refused
	// a child (at the dry run that precedes every write); children are left
	// as they were.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonApplyFailed: a child object could not be written for a reason
	// other than a refusal (the API server unavailable, a conflict); it is
	// retried with backoff.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonComponentNotReady: the named component is missing replicas.
	ReasonComponentNotReady = "ComponentNotReady"
	// ReasonLinkNotReady: the named link has an end that is not ready.
	ReasonLinkNotReady = "LinkNotReady"
	// ReasonLinkDown: a link has connections down while both of its
	// components are ready (Degraded and Ready); the message names the
	// broken pod pair and the probe's error.
	ReasonLinkDown = "LinkDown"
	// ReasonRollingOut: a component's workload is being created or updated.
	ReasonRollingOut = "RollingOut"
	// ReasonRolledOut: no rollout is under way.
	ReasonRolledOut = "RolledOut"
	// ReasonPaused: spec.paused is set; children are not changed.
	ReasonPaused = "Paused"
	// ReasonReplicasUnavailable: a rolled-out component lost replicas.
	ReasonReplicasUnavailable = "ReplicasUnavailable"
	// ReasonAsExpected: the condition's bad state does not hold (Degraded,
	// Reconciling and Stalled False).
	ReasonAsExpected = "AsExpected"
	// ReasonInternalError: an unexpected error; details are in the
	// operator's log.
	ReasonInternalError = "InternalError"
)
