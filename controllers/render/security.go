package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// Where a CURVE component's keys appear in its pods, and the keys of its
// key Secret. The directory is beside zmqconfig.MountDir, not inside it,
// because the config volume is read-only and cannot host mount points.
const (
	// CurveDir holds every CURVE key volume of a pod.
	CurveDir = "/etc/zmq-curve"
	// CurveKeyDir holds the component's own key pair: files
	// CurveSecretKeyFile and CurvePublicKeyFile (the Secret's keys).
	CurveKeyDir = CurveDir + "/key"
	// CurveServersDir holds one file per component this component
	// connects to, named after it, with that component's public key.
	CurveServersDir = CurveDir + "/servers"
	// CurveAllowedDir holds a directory per bound socket, named after it,
	// with one file per component allowed to connect (named after it, and
	// <component>.previous during a key rotation).
	CurveAllowedDir = CurveDir + "/allowed"

	CurveSecretKeyFile = "secret-key"
	CurvePublicKeyFile = "public-key"
	// CurvePreviousPublicKey is the Secret key holding the public key of
	// the pair replaced by the last rotation, while its overlap lasts.
	CurvePreviousPublicKey = "previous-public-key"
	// previousSuffix marks a previous public key in the keys ConfigMap.
	previousSuffix = ".previous"

	// AnnotationCurveKeys on a CURVE component's pod template is a digest
	// of the component's own public key and its servers' keys: a rotation
	// changes it and so rolls the pods that read those keys at start.
	AnnotationCurveKeys = "zmq.topology.dev/curve-keys"
)

// CurvePublicKeys are the Z85 public keys of a topology's components, by
// component name, as the keys phase read them from their Secrets.
type CurvePublicKeys map[string]ComponentPublicKeys

// ComponentPublicKeys are one component's public keys: Current, and
// Previous during the overlap of a rotation (empty otherwise).
type ComponentPublicKeys struct {
	Current, Previous string
}

// Volume names of the CURVE key volumes (prefix reserved in api/v1alpha1).
const (
	curveKeyVolume     = zmqv1.CurveVolumePrefix + "key"
	curveServersVolume = zmqv1.CurveVolumePrefix + "servers"
)

func curveAllowedVolume(socket string) string { return zmqv1.CurveVolumePrefix + "allowed-" + socket }

// CurveSecretName is the name of a component's key pair Secret.
func CurveSecretName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return zmqv1.CurveSecretName(t.Name, c.Name)
}

// CurveKeysConfigMapName is the name of a component's public keys ConfigMap.
func CurveKeysConfigMapName(t *zmqv1.ZMQTopology, c *zmqv1.Component) string {
	return zmqv1.CurveKeysConfigMapName(t.Name, c.Name)
}

// CurveServers are the components c connects to, in spec order without
// repeats.
func CurveServers(t *zmqv1.ZMQTopology, c *zmqv1.Component) []string {
	var out []string
	for _, s := range c.Sockets {
		if s.Connect != nil && s.Connect.Component != "" && !slices.Contains(out, s.Connect.Component) {
			out = append(out, s.Connect.Component)
		}
	}
	return out
}

// CurveClients are the components allowed to connect to c's bound socket:
// c itself (its sidecar probes the socket with c's key) and every
// component declared to connect to it, in spec order.
func CurveClients(t *zmqv1.ZMQTopology, c *zmqv1.Component, socket string) []string {
	out := []string{c.Name}
	for _, o := range t.Spec.Components {
		for _, s := range o.Sockets {
			if s.Connect != nil && s.Connect.Component == c.Name && s.Connect.Socket == socket && !slices.Contains(out, o.Name) {
				out = append(out, o.Name)
			}
		}
	}
	return out
}

// CurveSockets fills in the security block of each socket of a CURVE
// topology: a bound socket is a CURVE server with the component's key and
// its allowed-clients directory; a socket connecting to a component is a
// client with that component's public key as server key; a socket
// connecting to an external address stays NULL. It does nothing for a
// NULL topology.
func CurveSockets(t *zmqv1.ZMQTopology, cfg *zmqconfig.Config) {
	if !t.IsCurve() {
		return
	}
	for i := range cfg.Sockets {
		s := &cfg.Sockets[i]
		own := zmqconfig.Security{
			Mechanism:     zmqconfig.MechanismCurve,
			SecretKeyFile: path.Join(CurveKeyDir, CurveSecretKeyFile),
			PublicKeyFile: path.Join(CurveKeyDir, CurvePublicKeyFile),
		}
		switch {
		case s.Bind:
			own.Server = true
			own.AllowedClientKeysDir = path.Join(CurveAllowedDir, s.Name)
		case s.Peer != nil:
			own.ServerPublicKeyFile = path.Join(CurveServersDir, s.Peer.Component)
		default:
			continue
		}
		s.Security = &own
	}
}

// curveKeyNames are the components whose public keys c needs: itself,
// its servers and the clients of its bound sockets.
func curveKeyNames(t *zmqv1.ZMQTopology, c *zmqv1.Component) []string {
	names := []string{c.Name}
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range CurveServers(t, c) {
		add(n)
	}
	for _, s := range c.Sockets {
		if s.Bind != nil {
			for _, n := range CurveClients(t, c, s.Name) {
				add(n)
			}
		}
	}
	return names
}

// CurveKeysConfigMap renders the ConfigMap of the public keys component c
// needs (see curveKeyNames): key <component> holds its current public key
// and <component>.previous the previous one during a rotation. Public keys
// are not secret.
func CurveKeysConfigMap(t *zmqv1.ZMQTopology, c *zmqv1.Component, keys CurvePublicKeys) (*corev1ac.ConfigMapApplyConfiguration, error) {
	data := map[string]string{}
	for _, n := range curveKeyNames(t, c) {
		k, ok := keys[n]
		if !ok || k.Current == "" {
			return nil, fmt.Errorf("component %q: no CURVE public key for component %q", c.Name, n)
		}
		data[n] = k.Current + "\n"
		if k.Previous != "" {
			data[n+previousSuffix] = k.Previous + "\n"
		}
	}
	return corev1ac.ConfigMap(CurveKeysConfigMapName(t, c), t.Namespace).
		WithLabels(Labels(t, c)).
		WithOwnerReferences(ownerReference(t)).
		WithData(data), nil
}

// CurveKeysDigest is the value of AnnotationCurveKeys for c: a digest of
// its own current public key and its servers' (the keys its pods read at
// start). Allowed-client keys are not in it: servers re-read that
// directory at every handshake, so their changes need no restart.
func CurveKeysDigest(t *zmqv1.ZMQTopology, c *zmqv1.Component, keys CurvePublicKeys) string {
	h := sha256.New()
	for _, n := range append([]string{c.Name}, CurveServers(t, c)...) {
		fmt.Fprintf(h, "%s=%s\n", n, keys[n].Current)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// addCurve mounts a CURVE component's keys into every container and init
// container (the application, a device, the sidecar) and stamps the pod
// template with AnnotationCurveKeys. The allowed-client directories are
// projections of the keys ConfigMap whose items name both the current and
// the previous key of each client; the volume is optional so that a
// missing .previous key is skipped (and a missing ConfigMap leaves the
// directory empty, which refuses every client: it fails closed).
func addCurve(t *zmqv1.ZMQTopology, c *zmqv1.Component, tpl *corev1ac.PodTemplateSpecApplyConfiguration, keys CurvePublicKeys) {
	spec := tpl.Spec
	cm := CurveKeysConfigMapName(t, c)
	spec.WithVolumes(corev1ac.Volume().WithName(curveKeyVolume).WithSecret(corev1ac.SecretVolumeSource().
		WithSecretName(CurveSecretName(t, c)).
		WithItems(
			corev1ac.KeyToPath().WithKey(CurveSecretKeyFile).WithPath(CurveSecretKeyFile),
			corev1ac.KeyToPath().WithKey(CurvePublicKeyFile).WithPath(CurvePublicKeyFile))))
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		corev1ac.VolumeMount().WithName(curveKeyVolume).WithMountPath(CurveKeyDir).WithReadOnly(true),
	}
	if servers := CurveServers(t, c); len(servers) > 0 {
		var items []*corev1ac.KeyToPathApplyConfiguration
		for _, n := range servers {
			items = append(items, corev1ac.KeyToPath().WithKey(n).WithPath(n))
		}
		spec.WithVolumes(corev1ac.Volume().WithName(curveServersVolume).WithConfigMap(
			corev1ac.ConfigMapVolumeSource().WithName(cm).WithItems(items...)))
		mounts = append(mounts, corev1ac.VolumeMount().WithName(curveServersVolume).WithMountPath(CurveServersDir).WithReadOnly(true))
	}
	for _, s := range c.Sockets {
		if s.Bind == nil {
			continue
		}
		var items []*corev1ac.KeyToPathApplyConfiguration
		for _, n := range CurveClients(t, c, s.Name) {
			items = append(items,
				corev1ac.KeyToPath().WithKey(n).WithPath(n),
				corev1ac.KeyToPath().WithKey(n+previousSuffix).WithPath(n+previousSuffix))
		}
		v := curveAllowedVolume(s.Name)
		spec.WithVolumes(corev1ac.Volume().WithName(v).WithConfigMap(
			corev1ac.ConfigMapVolumeSource().WithName(cm).WithItems(items...).WithOptional(true)))
		mounts = append(mounts, corev1ac.VolumeMount().WithName(v).WithMountPath(path.Join(CurveAllowedDir, s.Name)).WithReadOnly(true))
	}
	for i := range spec.Containers {
		spec.Containers[i].WithVolumeMounts(mounts...)
	}
	for i := range spec.InitContainers {
		spec.InitContainers[i].WithVolumeMounts(mounts...)
	}
	tpl.WithAnnotations(map[string]string{AnnotationCurveKeys: CurveKeysDigest(t, c, keys)})
}
