package render

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"k8s.io/utils/ptr"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

func findObject(t *testing.T, objs []Object, kind Kind, name string) Object {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return Object{}
}

func TestExternalReplicas(t *testing.T) {
	z := fixture()
	sub := &z.Spec.Components[2]
	sub.Replicas = ptr.To[int32](3)

	objs, err := Render(z, Options{ClusterDomain: "cluster.local", SidecarImage: "s"})
	if err != nil {
		t.Fatal(err)
	}
	owned := findObject(t, objs, KindDeployment, "t-sub")
	if d := owned.Apply.(*appsv1ac.DeploymentApplyConfiguration); d.Spec.Replicas == nil || *d.Spec.Replicas != 3 || owned.InitialReplicas != nil {
		t.Errorf("operator-owned: replicas %v, initial %v; want 3, nil", d.Spec.Replicas, owned.InitialReplicas)
	}

	sub.Autoscaling = &zmqv1.AutoscalingSpec{Mode: zmqv1.AutoscalingExternal}
	objs, err = Render(z, Options{ClusterDomain: "cluster.local", SidecarImage: "s"})
	if err != nil {
		t.Fatal(err)
	}
	ext := findObject(t, objs, KindDeployment, "t-sub")
	if d := ext.Apply.(*appsv1ac.DeploymentApplyConfiguration); d.Spec.Replicas != nil {
		t.Errorf("external: spec.replicas = %d; want it left out", *d.Spec.Replicas)
	}
	if ext.InitialReplicas == nil || *ext.InitialReplicas != 3 {
		t.Errorf("external: initial replicas = %v; want 3", ext.InitialReplicas)
	}
	// An external binder with several replicas stays a Deployment.
	bound := sub.DeepCopy()
	bound.Sockets = append(bound.Sockets, zmqv1.Socket{Name: "x", Type: zmqv1.PULL, Bind: &zmqv1.BindSpec{Port: 9}})
	if PerReplica(bound) || WorkloadKind(bound) != KindDeployment {
		t.Errorf("an externally scaled binder renders a %s", WorkloadKind(bound))
	}
}

func TestDeviceRolloutStrategy(t *testing.T) {
	z := fixture()
	fwd := &z.Spec.Components[1]
	fwd.Replicas = ptr.To[int32](1) // a Deployment
	objs, err := Render(z, Options{ClusterDomain: "cluster.local", SidecarImage: "s"})
	if err != nil {
		t.Fatal(err)
	}
	d := findObject(t, objs, KindDeployment, "t-fwd").Apply.(*appsv1ac.DeploymentApplyConfiguration)
	s := d.Spec.Strategy
	if s == nil || *s.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		*s.RollingUpdate.MaxUnavailable != intstr.FromInt32(0) || *s.RollingUpdate.MaxSurge != intstr.FromInt32(1) {
		t.Errorf("device strategy = %+v; want RollingUpdate, maxUnavailable 0, maxSurge 1", s)
	}
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 30 {
		t.Errorf("terminationGracePeriodSeconds = %v; want 30", g)
	}
	app := findObject(t, objs, KindDeployment, "t-sub").Apply.(*appsv1ac.DeploymentApplyConfiguration)
	if app.Spec.Strategy != nil {
		t.Errorf("application strategy = %+v; want the Kubernetes default", app.Spec.Strategy)
	}
}
