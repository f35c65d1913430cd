package images

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestLayoutPush builds a two-platform index, writes it as an OCI layout,
// pushes the layout to an in-process registry and reads it back from there.
func TestLayoutPush(t *testing.T) {
	dir := t.TempDir()
	labels := map[string]string{"org.opencontainers.image.version": "v9", "org.opencontainers.image.licenses": "Apache-2.0"}
	specs := map[string]ImageSpec{}
	for _, arch := range []string{"amd64", "arm64"} {
		bin := filepath.Join(dir, "app-"+arch)
		if err := os.WriteFile(bin, []byte("binary for "+arch), 0o755); err != nil {
			t.Fatal(err)
		}
		specs[arch] = ImageSpec{Files: map[string]string{"/app": bin}, Entrypoint: []string{"/app"}, User: "65532:65532", Labels: labels}
	}
	idx, err := Index(specs, labels)
	if err != nil {
		t.Fatal(err)
	}
	lay := filepath.Join(dir, "layout")
	if err := WriteLayout(lay, idx, "v9"); err != nil {
		t.Fatal(err)
	}
	back, tag, err := ReadLayout(lay)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if got, _ := back.Digest(); got != want || tag != "v9" {
		t.Fatalf("layout holds %s %q; want %s v9", got, tag, want)
	}

	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/zmq/app:v9"
	digest, err := Push(context.Background(), lay, ref, true)
	if err != nil {
		t.Fatal(err)
	}
	if digest != want {
		t.Errorf("pushed %s; want %s", digest, want)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pulled.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations["org.opencontainers.image.version"] != "v9" || len(m.Manifests) != 2 {
		t.Fatalf("index = %+v", m)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		d := m.Manifests[i]
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != arch {
			t.Errorf("manifest %d platform = %+v; want linux/%s", i, d.Platform, arch)
		}
		img, err := pulled.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != arch || cf.Config.User != "65532:65532" || cf.Config.Labels["org.opencontainers.image.licenses"] != "Apache-2.0" {
			t.Errorf("linux/%s config = %+v", arch, cf.Config)
		}
		if mt, _ := img.MediaType(); !strings.Contains(string(mt), "oci") {
			t.Errorf("linux/%s media type %s; want OCI", arch, mt)
		}
	}
}
