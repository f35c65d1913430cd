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
	if s.curveKeysMissing {
		return nil // paused before its keys existed: nothing to render
	}
	opts := r.Render
	opts.CurveKeys = s.curveKeys
	desired, err := render.Render(s.topology, opts)
	if err != nil {
		return fmt.Errorf("rendering children: %w", err)
	}
	if err := stampAppliedHash(desired); err != nil {
		return err
	}
	s.desired = desired
	return nil
}
