package render

import (
	"testing"
)

// TestSidecarPodName: the agent learns its pod's name from the downward
// API, for its /status document.
func TestSidecarPodName(t *testing.T) {
	z := fixture()
	for i := range z.Spec.Components {
		c := &z.Spec.Components[i]
		tpl, err := PodTemplate(z, c, Resolve(z, c, "cluster.local"), Options{SidecarImage: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if len(tpl.Spec.InitContainers) != 1 {
			t.Fatalf("component %s: init containers %+v", c.Name, tpl.Spec.InitContainers)
		}
		var found bool
		for _, e := range tpl.Spec.InitContainers[0].Env {
			if *e.Name == SidecarPodNameEnv {
				found = e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && *e.ValueFrom.FieldRef.FieldPath == "metadata.name"
			}
		}
		if !found {
			t.Errorf("component %s: the sidecar has no %s from metadata.name: %+v", c.Name, SidecarPodNameEnv, tpl.Spec.InitContainers[0].Env)
		}
	}
}
