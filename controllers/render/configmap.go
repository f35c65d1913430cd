package render

import (
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// ConfigMap renders the ConfigMap that holds a component's resolved sockets
// as zmqconfig.FileName, mounted in every container at zmqconfig.MountDir.
func ConfigMap(t *zmqv1.ZMQTopology, c *zmqv1.Component, cfg *zmqconfig.Config) (*corev1ac.ConfigMapApplyConfiguration, error) {
	data, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	return corev1ac.ConfigMap(ConfigMapName(t, c), t.Namespace).
		WithLabels(Labels(t, c)).
		WithOwnerReferences(ownerReference(t)).
		WithData(map[string]string{zmqconfig.FileName: string(data) + "\n"}), nil
}
