package images

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuildRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "img.tar")
	spec := ImageSpec{
		Name:       "localhost/zmq-e2e/app:dev",
		Files:      map[string]string{"/usr/bin/app": bin},
		Entrypoint: []string{"/usr/bin/app"},
		Cmd:        []string{"serve"},
		User:       "65532:65532",
	}
	if err := Build(context.Background(), spec, out); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(spec.Name)
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, spec.Entrypoint) || cf.Config.User != "65532:65532" || cf.OS != "linux" {
		t.Errorf("config = %+v", cf.Config)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h.Mode
	}
	want := map[string]int64{"usr/": 0o755, "usr/bin/": 0o755, "usr/bin/app": 0o755, "tmp/": 0o1777}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layer entries = %v, want %v", got, want)
	}

	// Same input, same bytes (reproducible).
	out2 := filepath.Join(dir, "img2.tar")
	if err := Build(context.Background(), spec, out2); err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	img2, err := tarball.ImageFromPath(out2, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := img2.Digest(); d1 != d2 {
		t.Errorf("digests differ: %s %s", d1, d2)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	if err := Build(ctx, ImageSpec{Name: "UPPER/case:x"}, filepath.Join(t.TempDir(), "x.tar")); err == nil {
		t.Error("bad name accepted")
	}
	if err := Build(ctx, ImageSpec{Name: "localhost/x:1", Files: map[string]string{"/a": "/does/not/exist"}}, filepath.Join(t.TempDir(), "x.tar")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestBuildPause(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	out := filepath.Join(t.TempDir(), "pause.tar")
	if err := BuildPause(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(PauseImage)
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" {
		t.Errorf("entrypoint %v", cf.Config.Entrypoint)
	}
}
