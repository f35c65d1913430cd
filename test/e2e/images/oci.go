package images

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefNameAnnotation names an image in an OCI layout's index.json.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Index packs one image per architecture (specs maps a GOARCH to the image
// of that architecture, all linux) into a multi-platform OCI image index.
// The index and every manifest carry annotations (the OCI
// org.opencontainers.image.* keys, say), as each image config carries its
// spec's Labels.
func Index(specs map[string]ImageSpec, annotations map[string]string) (v1.ImageIndex, error) {
	var arches []string
	for a := range specs {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range arches {
		img, err := newImage(specs[arch], arch, true)
		if err != nil {
			return nil, fmt.Errorf("linux/%s: %w", arch, err)
		}
		if len(annotations) > 0 {
			img = mutate.Annotations(img, annotations).(v1.Image)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	return idx, nil
}

// WriteLayout writes idx as the only entry of a fresh OCI image layout in
// dir (replacing what was there), named tag in index.json, as skopeo's
// oci:DIR:TAG and `ctr images import` expect.
func WriteLayout(dir string, idx v1.ImageIndex, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefNameAnnotation: tag}))
}

// ReadLayout returns the image index of an OCI layout WriteLayout wrote, and
// its tag.
func ReadLayout(dir string) (v1.ImageIndex, string, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", err
	}
	m, err := root.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	if len(m.Manifests) != 1 || !m.Manifests[0].MediaType.IsIndex() {
		return nil, "", fmt.Errorf("%s: want one image index in index.json, have %d entries", dir, len(m.Manifests))
	}
	idx, err := root.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		return nil, "", err
	}
	return idx, m.Manifests[0].Annotations[RefNameAnnotation], nil
}

// Push pushes the image index of the OCI layout in dir to ref (a tag,
// repository:tag) with the credentials of the Docker config
// ($DOCKER_CONFIG, ~/.docker/config.json), and returns its digest. A
// registry on localhost or 127.0.0.1 is spoken to over plain HTTP; insecure
// allows it for any host.
func Push(ctx context.Context, dir, ref string, insecure bool) (v1.Hash, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	tag, err := name.NewTag(ref, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	idx, _, err := ReadLayout(dir)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", tag, err)
	}
	return idx.Digest()
}
