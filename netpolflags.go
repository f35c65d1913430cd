package main

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// defaultOperatorPodSelector selects the manager's pods as both the
// kustomize manifests and the Helm chart label them.
const defaultOperatorPodSelector = "app.kubernetes.io/name=zmq-operator,app.kubernetes.io/component=manager"

// networkPolicyOptions turns the manager's NetworkPolicy flags into the
// peers the rendered policies admit to the sidecar and device metrics
// ports: namespace (--operator-namespace) and podSelector
// (--operator-pod-selector, equality terms only: k=v,k2=v2) select the
// operator's pods; monitoring (--metrics-namespace-selector, any label
// selector, such as "kubernetes.io/metadata.name in (monitoring)") selects
// the namespaces allowed to scrape, and empty allows none.
func networkPolicyOptions(namespace, podSelector, monitoring string) (render.NetworkPolicyOptions, error) {
	opts := render.NetworkPolicyOptions{OperatorNamespace: strings.TrimSpace(namespace)}
	if strings.TrimSpace(podSelector) != "" {
		sel, err := labels.ConvertSelectorToLabelsMap(podSelector)
		if err != nil {
			return opts, fmt.Errorf("--operator-pod-selector: %w (want k=v[,k=v...])", err)
		}
		opts.OperatorPodLabels = sel
	}
	if strings.TrimSpace(monitoring) != "" {
		sel, err := metav1.ParseToLabelSelector(monitoring)
		if err != nil {
			return opts, fmt.Errorf("--metrics-namespace-selector: %w", err)
		}
		opts.MonitoringNamespaces = sel
	}
	return opts, nil
}
