package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/pkg/zmtp"
)

// keys makes sure every component of a CURVE topology has a key pair in
// its Secret and collects the public keys for render. It is the only
// phase that handles secret keys: they go from zmtp.GenerateCurveKeyPair
// straight into a Secret and are never logged, put in status, events or
// errors. A Secret is created once and then only read; it changes only on
// a rotation request (zmqv1.AnnotationRotate), which keeps the old public
// key (render publishes it in the allowed-client directories) until every
// pod that reads the key at start has rolled, and then drops it. Secrets
// of components no longer in the spec are deleted.
//
// Key Secrets are written with Create and Update (optimistic locking), not
// with server-side apply: a cache that has not yet seen a Secret we
// created must never lead to a second key pair overwriting the first.
func (r *ZMQTopologyReconciler) keys(ctx context.Context, s *scope) error {
	t := s.topology
	if len(s.invalid) > 0 || t.Spec.Paused && !t.IsCurve() {
		return nil
	}
	if !t.IsCurve() {
		// Back to NULL: no key is kept. The cached keys ConfigMaps (pruned
		// later in this reconcile) tell whether there can be any, so a
		// NULL topology costs no API request here.
		if was, err := r.hadCurveKeys(ctx, t); err != nil || !was {
			return err
		}
		return r.pruneCurveSecrets(ctx, t)
	}
	keys := render.CurvePublicKeys{}
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		sec, err := r.curveSecret(ctx, t, c, !t.Spec.Paused)
		if err != nil {
			return fmt.Errorf("CURVE key Secret %s: %w", render.CurveSecretName(t, c), err)
		}
		if sec == nil {
			s.curveKeysMissing = true
			continue
		}
		keys[c.Name] = render.ComponentPublicKeys{
			Current:  string(sec.Data[render.CurvePublicKeyFile]),
			Previous: string(sec.Data[render.CurvePreviousPublicKey]),
		}
	}
	s.curveKeys = keys
	// Key Secrets are read from the API server, not watched (see
	// secrets): a rotation request and the end of an overlap are picked
	// up at the latest after CurveResync.
	s.requeue(r.curveResync())
	if t.Spec.Paused {
		return nil
	}
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		if keys[c.Name].Previous == "" {
			continue
		}
		done, err := r.curveRolledOut(ctx, t, c, keys)
		if err != nil {
			return err
		}
		if !done {
			continue // the readers of the key are still rolling
		}
		if err := r.dropPreviousKey(ctx, t, c); err != nil {
			return fmt.Errorf("CURVE key Secret %s: ending the rotation overlap: %w", render.CurveSecretName(t, c), err)
		}
		k := keys[c.Name]
		k.Previous = ""
		keys[c.Name] = k
		r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "CurveKeyRotated", "Rotate",
			"component %s: every pod uses the new CURVE key; the previous public key is no longer accepted", c.Name)
	}
	return r.pruneCurveSecrets(ctx, t)
}

// secrets reads key Secrets directly from the API server. They are not in
// the manager's cache: that cache's Secret informer is restricted to the
// webhook's certificate Secret (internal/webhook/certs), and one informer
// per kind cannot serve both selectors. Reading through the API server
// also means a Secret created moments ago is never missed.
func (r *ZMQTopologyReconciler) secrets() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// DefaultCurveResync is how often a CURVE topology is reconciled to pick
// up key rotation requests when nothing else happens.
const DefaultCurveResync = time.Minute

func (r *ZMQTopologyReconciler) curveResync() time.Duration {
	if r.CurveResync > 0 {
		return r.CurveResync
	}
	return DefaultCurveResync
}

// hadCurveKeys reports whether the cache still holds a keys ConfigMap of
// the topology.
func (r *ZMQTopologyReconciler) hadCurveKeys(ctx context.Context, t *zmqv1.ZMQTopology) (bool, error) {
	cms := &corev1.ConfigMapList{}
	if err := r.List(ctx, cms, r.childrenOf(t)...); err != nil {
		return false, fmt.Errorf("listing ConfigMaps: %w", err)
	}
	for i := range cms.Items {
		if strings.HasSuffix(cms.Items[i].Name, zmqv1.CurveKeysSuffix) {
			return true, nil
		}
	}
	return false, nil
}

// curveSecret returns c's key Secret, creating it with a new key pair when
// it does not exist (and create is true), or rotating its key when asked
// to. It returns nil when the Secret is missing and create is false.
func (r *ZMQTopologyReconciler) curveSecret(ctx context.Context, t *zmqv1.ZMQTopology, c *zmqv1.Component, create bool) (*corev1.Secret, error) {
	key := client.ObjectKey{Namespace: t.Namespace, Name: render.CurveSecretName(t, c)}
	sec := &corev1.Secret{}
	err := r.secrets().Get(ctx, key, sec)
	switch {
	case apierrors.IsNotFound(err) && !create:
		return nil, nil
	case apierrors.IsNotFound(err):
		return r.createCurveSecret(ctx, t, c)
	case err != nil:
		return nil, err
	}
	if !metav1.IsControlledBy(sec, t) {
		return nil, fmt.Errorf("exists and is not controlled by topology %s", t.Name)
	}
	if len(sec.Data[render.CurveSecretKeyFile]) == 0 || len(sec.Data[render.CurvePublicKeyFile]) == 0 {
		return nil, fmt.Errorf("has no %s or %s", render.CurveSecretKeyFile, render.CurvePublicKeyFile)
	}
	want := sec.Annotations[zmqv1.AnnotationRotate]
	if !create || want == "" || want == sec.Annotations[zmqv1.AnnotationRotated] {
		return sec, nil
	}
	return r.rotateCurveSecret(ctx, t, c, sec, want)
}

// newKeyData generates a key pair as Secret data.
func newKeyData() (map[string][]byte, error) {
	pub, secret, err := zmtp.GenerateCurveKeyPair()
	if err != nil {
		return nil, fmt.Errorf("generating a CURVE key pair: %w", err)
	}
	return map[string][]byte{
		render.CurveSecretKeyFile: []byte(secret.Z85()),
		render.CurvePublicKeyFile: []byte(pub.String()),
	}, nil
}

func (r *ZMQTopologyReconciler) createCurveSecret(ctx context.Context, t *zmqv1.ZMQTopology, c *zmqv1.Component) (*corev1.Secret, error) {
	data, err := newKeyData()
	if err != nil {
		return nil, err
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: render.CurveSecretName(t, c), Namespace: t.Namespace, Labels: render.Labels(t, c)},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(t, sec, r.Scheme()); err != nil {
		return nil, err
	}
	if err := r.Create(ctx, sec); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Created by a reconcile we raced with: use that pair.
			got := &corev1.Secret{}
			if err := r.secrets().Get(ctx, client.ObjectKeyFromObject(sec), got); err != nil {
				return nil, err
			}
			return got, nil
		}
		return nil, err
	}
	logf.FromContext(ctx).Info("created CURVE key pair", "secret", sec.Name, "component", c.Name)
	r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "CurveKeyCreated", "Create", "component %s: CURVE key pair created in Secret %s", c.Name, sec.Name)
	return sec, nil
}

// rotateCurveSecret replaces the key pair, keeping the old public key as
// CurvePreviousPublicKey for the overlap. A rotation requested while an
// overlap is still running replaces the previous key: only one old key is
// ever accepted.
func (r *ZMQTopologyReconciler) rotateCurveSecret(ctx context.Context, t *zmqv1.ZMQTopology, c *zmqv1.Component, sec *corev1.Secret, request string) (*corev1.Secret, error) {
	data, err := newKeyData()
	if err != nil {
		return nil, err
	}
	out := sec.DeepCopy()
	data[render.CurvePreviousPublicKey] = sec.Data[render.CurvePublicKeyFile]
	out.Data = data
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[zmqv1.AnnotationRotated] = request
	if err := r.Update(ctx, out); err != nil {
		return nil, fmt.Errorf("rotating: %w", err)
	}
	logf.FromContext(ctx).Info("rotated CURVE key pair", "secret", sec.Name, "component", c.Name)
	r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "CurveKeyRotating", "Rotate",
		"component %s: new CURVE key pair; the previous public key stays accepted until its pods have rolled", c.Name)
	return out, nil
}

// dropPreviousKey ends a rotation's overlap.
func (r *ZMQTopologyReconciler) dropPreviousKey(ctx context.Context, t *zmqv1.ZMQTopology, c *zmqv1.Component) error {
	sec := &corev1.Secret{}
	if err := r.secrets().Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: render.CurveSecretName(t, c)}, sec); err != nil {
		return err
	}
	if _, ok := sec.Data[render.CurvePreviousPublicKey]; !ok {
		return nil
	}
	out := sec.DeepCopy()
	delete(out.Data, render.CurvePreviousPublicKey)
	return r.Update(ctx, out)
}

// curveRolledOut reports whether every pod that reads c's key at start
// (c's own and those of the components connecting to c) runs a template
// with the current keys and has rolled out completely.
func (r *ZMQTopologyReconciler) curveRolledOut(ctx context.Context, t *zmqv1.ZMQTopology, c *zmqv1.Component, keys render.CurvePublicKeys) (bool, error) {
	readers := []string{c.Name}
	for i := range t.Spec.Components {
		o := &t.Spec.Components[i]
		for _, srv := range render.CurveServers(t, o) {
			if srv == c.Name && o.Name != c.Name {
				readers = append(readers, o.Name)
			}
		}
	}
	for _, n := range readers {
		d := t.Component(n)
		key := client.ObjectKey{Namespace: t.Namespace, Name: render.ObjectName(t, d)}
		var (
			w        workload
			template map[string]string
			err      error
		)
		if render.WorkloadKind(d) == render.KindStatefulSet {
			sts := &appsv1.StatefulSet{}
			if err = r.Get(ctx, key, sts); err == nil {
				w, template = statefulSetWorkload(sts), sts.Spec.Template.Annotations
			}
		} else {
			dep := &appsv1.Deployment{}
			if err = r.Get(ctx, key, dep); err == nil {
				w, template = deploymentWorkload(dep), dep.Spec.Template.Annotations
			}
		}
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if template[render.AnnotationCurveKeys] != render.CurveKeysDigest(t, d, keys) {
			return false, nil
		}
		if observeComponent(t, d, &w, "").phase != phaseReady {
			return false, nil
		}
	}
	return true, nil
}

// pruneCurveSecrets deletes the key Secrets of components that left the
// spec, or all of them when the topology no longer selects CURVE.
func (r *ZMQTopologyReconciler) pruneCurveSecrets(ctx context.Context, t *zmqv1.ZMQTopology) error {
	list := &corev1.SecretList{}
	if err := r.secrets().List(ctx, list, client.InNamespace(t.Namespace), client.MatchingLabels{render.LabelTopology: t.Name}); err != nil {
		return fmt.Errorf("listing CURVE key Secrets: %w", err)
	}
	for i := range list.Items {
		sec := &list.Items[i]
		if !metav1.IsControlledBy(sec, t) || t.IsCurve() && t.Component(sec.Labels[render.LabelComponent]) != nil {
			continue
		}
		if err := r.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting CURVE key Secret %s: %w", sec.Name, err)
		}
	}
	return nil
}
