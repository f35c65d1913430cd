package controllers

import (
	"context"
	"fmt"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// render computes the desired children of a valid topology.
func (r *ZMQTopologyReconciler) render(_ context.Context, s *scope) error {
	if len(s.invalid) > 0 {
		return nil
	}
	desired, err := render.Render(s.topology, r.Render)
	if err != nil {
		return fmt.Errorf("rendering children: %w", err)
	}
	s.desired = desired
	return nil
}
