// Package namespaced holds the envtest suite of the operator's namespaced
// mode (--watch-namespaces, config/overlays/namespaced): its own API server,
// so that no cluster-wide manager runs beside the one under test.
package namespaced
