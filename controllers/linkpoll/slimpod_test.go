package linkpoll

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// fullPod is a topology pod as the API server holds it: an app container
// with the injected environment, the sidecar as a native sidecar (init)
// container, volumes, managed fields and a full status.
func fullPod(mutate func(*corev1.Pod)) *corev1.Pod {
	env := make([]corev1.EnvVar, 12)
	for i := range env {
		env[i] = corev1.EnvVar{Name: "ZMQ_SOCKET_" + strings.Repeat("X", i+1), Value: "tcp://p-ventilator.bench.svc.cluster.local:5557"}
	}
	always := corev1.ContainerRestartPolicyAlways
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "bench", Name: "p-worker-7c9f-x2", UID: "u1", ResourceVersion: "42",
			Labels:          map[string]string{render.LabelTopology: "p", render.LabelComponent: "worker", "pod-template-hash": "7c9f"},
			Annotations:     map[string]string{"zmq.topology.dev/config-hash": strings.Repeat("a", 64)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "p-worker-7c9f", UID: "rs"}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}},"f:spec":{"f:containers":{}}}`)}}},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{
				Name: render.SidecarContainer, Image: "zmq-sidecar:dev", RestartPolicy: &always, Env: env,
				Args:  []string{"agent", "--config=/etc/zmq/topology.json"},
				Ports: []corev1.ContainerPort{{Name: render.SidecarPortName, ContainerPort: 9102}},
			}},
			Containers: []corev1.Container{{Name: "app", Image: "zmq-example:dev", Args: []string{"worker"}, Env: env,
				VolumeMounts: []corev1.VolumeMount{{Name: "zmq-topology", MountPath: "/etc/zmq"}}}},
			Volumes:  []corev1.Volume{{Name: "zmq-topology", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "p-topology"}}}}},
			NodeName: "kwok-node-3",
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.0.0.9", HostIP: "10.1.0.3",
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, Image: "zmq-example:dev", ImageID: strings.Repeat("b", 71)}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// TestSlimPodKeepsWhatThePollerReads: for every case the poller tells
// apart (running or not, ready or not, being deleted, sidecar port
// declared as an init or an app container, or not at all), the slim pod
// gives the same target and readiness as the full one, and it is a small
// part of its size.
func TestSlimPodKeepsWhatThePollerReads(t *testing.T) {
	p := &Poller{}
	now := metav1.NewTime(time.Now())
	cases := map[string]func(*corev1.Pod){
		"ready":      nil,
		"not ready":  func(p *corev1.Pod) { p.Status.Conditions[1].Status = corev1.ConditionFalse },
		"pending":    func(p *corev1.Pod) { p.Status.Phase, p.Status.PodIP = corev1.PodPending, "" },
		"deleting":   func(p *corev1.Pod) { p.DeletionTimestamp = &now },
		"no sidecar": func(p *corev1.Pod) { p.Spec.InitContainers = nil },
		"sidecar as an app container": func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, p.Spec.InitContainers[0])
			p.Spec.Containers[1].Ports[0].ContainerPort = 9200
			p.Spec.InitContainers = nil
		},
		"no component label": func(p *corev1.Pod) { delete(p.Labels, render.LabelComponent) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			full := fullPod(mutate)
			out, err := SlimPod(full.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			slim := out.(*corev1.Pod)
			wantURL, wantOK := p.target(full)
			gotURL, gotOK := p.target(slim)
			if gotURL != wantURL || gotOK != wantOK {
				t.Errorf("target: slim %q %v, full %q %v", gotURL, gotOK, wantURL, wantOK)
			}
			if podReady(slim) != podReady(full) {
				t.Errorf("ready: slim %v, full %v", podReady(slim), podReady(full))
			}
			if slim.Name != full.Name || slim.Namespace != full.Namespace || slim.UID != full.UID || slim.ResourceVersion != full.ResourceVersion {
				t.Errorf("identity lost: %+v", slim.ObjectMeta)
			}
			// Informers may transform an object twice.
			if again, err := SlimPod(slim.DeepCopy()); err != nil || !equality.Semantic.DeepEqual(again, slim) {
				t.Errorf("a second pass changed the pod: %+v (%v)", again, err)
			}
			fullJSON, _ := json.Marshal(full)
			slimJSON, _ := json.Marshal(slim)
			if len(slimJSON)*3 > len(fullJSON) {
				t.Errorf("slim pod %d bytes, full %d: want under a third", len(slimJSON), len(fullJSON))
			}
		})
	}
	if out, _ := SlimPod(&corev1.Service{}); out == nil {
		t.Error("a non-pod object was dropped")
	}
}
