package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// runAPICost measures what one write of a topology costs the API server:
// the kube-apiserver CPU time per create and per status merge patch (the
// operator's ~3 per topology) of n pipeline topologies, on an envtest
// control plane of its own for each CRD directory in crdDirs, the
// directories taken in turn rounds times. Comparing a CRD with one edited
// by hand (say, some x-kubernetes-validations removed) says what its
// schema costs on every write; the numbers move by ±20% between runs on a
// shared machine, so compare directories within one run. With profile
// positive, a kube-apiserver CPU profile of that long from the first status
// patch is written to profileDir (patches-<round>-<i>.pprof).
func runAPICost(ctx context.Context, k8sBin string, crdDirs []string, n, rounds int, profile time.Duration, profileDir string) error {
	for r := 1; r <= rounds; r++ {
		for i, dir := range crdDirs {
			var path string
			if profile > 0 {
				path = filepath.Join(profileDir, fmt.Sprintf("patches-%d-%d.pprof", r, i+1))
			}
			create, patch, err := apiCost(ctx, k8sBin, dir, n, profile, path)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			fmt.Printf("  round %d, CRDs %s: kube-apiserver CPU per topology create %.2f ms, per status patch %.2f ms (%d each)\n",
				r, dir, create.Seconds()*1000/float64(n), patch.Seconds()*1000/float64(n), n)
		}
	}
	return nil
}

// apiCost starts envtest with the CRDs in crdDir and returns the
// kube-apiserver CPU time that creating n topologies took, then that one
// status merge patch of each took.
func apiCost(ctx context.Context, k8sBin, crdDir string, n int, profile time.Duration, profilePath string) (create, patch time.Duration, err error) {
	env := &envtest.Environment{BinaryAssetsDirectory: k8sBin, CRDDirectoryPaths: []string{crdDir}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = env.Stop() }()
	cl, err := clientAt(cfg, 10000)
	if err != nil {
		return 0, 0, err
	}
	apiserverCPU := func() (time.Duration, error) {
		cpu, err := processCPU()
		return cpu["kube-apiserver"], err
	}
	before, err := apiserverCPU()
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		if err := cl.Create(ctx, pipeline("default", i)); err != nil {
			return 0, 0, err
		}
	}
	created, err := apiserverCPU()
	if err != nil {
		return 0, 0, err
	}
	profiled := func() {}
	if profile > 0 {
		profiled = apiserverProfile(ctx, cfg, profile, profilePath, "from about the first status patch (profiling adds to the CPU measured)")
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for i := range n {
		t := pipeline("default", i)
		body := fmt.Sprintf(`{"status":{"observedGeneration":1,"conditions":[{"type":%q,"status":"False","reason":%q,"message":"rolling out (%d)","lastTransitionTime":%q,"observedGeneration":1}]}}`,
			zmqv1.ConditionReady, zmqv1.ReasonComponentNotReady, i, now)
		if err := cl.Status().Patch(ctx, t, client.RawPatch(types.MergePatchType, []byte(body))); err != nil {
			return 0, 0, err
		}
	}
	patched, err := apiserverCPU()
	if err != nil {
		return 0, 0, err
	}
	profiled()
	return created - before, patched - created, nil
}
