// Package charts holds the tests of the Helm charts in this directory: helm
// lint, and helm template applied with kubectl --dry-run=server to an
// envtest API server. Helm is the pinned tool of hack/tools/go.mod.
package charts
