package main

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

func TestNetworkPolicyOptions(t *testing.T) {
	got, err := networkPolicyOptions("zmq-system", defaultOperatorPodSelector, "kubernetes.io/metadata.name in (monitoring,obs)")
	if err != nil {
		t.Fatal(err)
	}
	want := render.NetworkPolicyOptions{
		OperatorNamespace: "zmq-system",
		OperatorPodLabels: map[string]string{"app.kubernetes.io/name": "zmq-operator", "app.kubernetes.io/component": "manager"},
		MonitoringNamespaces: &metav1.LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"monitoring", "obs"}},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("networkPolicyOptions() = %+v, want %+v", got, want)
	}

	got, err = networkPolicyOptions("", "", "")
	if err != nil || !reflect.DeepEqual(got, render.NetworkPolicyOptions{}) {
		t.Errorf("networkPolicyOptions of empty flags = %+v, %v; want no peers", got, err)
	}

	for _, tc := range []struct{ pod, mon, flag string }{
		{"app in (a,b)", "", "--operator-pod-selector"},
		{"a=b", "a in (", "--metrics-namespace-selector"},
	} {
		if _, err := networkPolicyOptions("ns", tc.pod, tc.mon); err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("networkPolicyOptions(%q, %q) error = %v, want one naming %s", tc.pod, tc.mon, err, tc.flag)
		}
	}
}
