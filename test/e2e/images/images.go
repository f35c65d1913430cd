// Package images builds container image tarballs without Docker or a
// registry: static binaries packed onto an empty base with
// github.com/google/go-containerregistry, written as docker-archive tarballs
// that `ctr images import` (cluster.ImportImage) loads into containerd.
//
// Name images under the "localhost/" registry (for example
// "localhost/zmq-e2e/httpecho:dev") and run them with imagePullPolicy Never:
// should a pull ever be attempted, it goes to loopback only.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PauseImage is the sandbox image of the local cluster (containerd's
// sandbox_image).
const PauseImage = "localhost/zmq-e2e/pause:1"

// ImageSpec describes a single-layer image on an empty base.
type ImageSpec struct {
	// Name is the image reference written into the tarball, e.g.
	// "localhost/zmq-e2e/httpecho:dev".
	Name string
	// Files maps an absolute path in the image to a local file. Files are
	// copied with their local permission bits, owned by 0:0; parent
	// directories are created 0755.
	Files map[string]string
	// Entrypoint and Cmd of the image config.
	Entrypoint []string
	Cmd        []string
	// Env entries (KEY=VALUE); PATH defaults to /.
	Env []string
	// User the container runs as, numeric ("65532:65532") so no /etc/passwd
	// is needed. Empty means root.
	User string
	// WorkingDir of the container; "/" when empty.
	WorkingDir string
	// Labels of the image config (org.opencontainers.image.*, say).
	Labels map[string]string
}

// epoch is the fixed timestamp of every file, for reproducible layers.
var epoch = time.Unix(0, 0).UTC()

// Build writes the image described by spec, for the host's architecture, as
// a docker-archive tarball to outTar.
func Build(ctx context.Context, spec ImageSpec, outTar string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ref, err := name.NewTag(spec.Name)
	if err != nil {
		return fmt.Errorf("image name %q: %w", spec.Name, err)
	}
	img, err := newImage(spec, runtime.GOARCH, false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(outTar), 0o755); err != nil {
		return err
	}
	tmp := outTar + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", outTar, err)
	}
	return os.Rename(tmp, outTar)
}

// newImage packs spec's files as the single layer of an image for
// linux/arch, with OCI media types when oci is set (Docker's otherwise, which
// `ctr images import` of a docker-archive expects).
func newImage(spec ImageSpec, arch string, oci bool) (v1.Image, error) {
	layerBytes, err := layerTar(spec.Files)
	if err != nil {
		return nil, err
	}
	var layerOpts []tarball.LayerOption
	base := empty.Image
	if oci {
		layerOpts = append(layerOpts, tarball.WithMediaType(types.OCILayer))
		base = mutate.ConfigMediaType(mutate.MediaType(base, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, layerOpts...)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = spec.Entrypoint
	cf.Config.Cmd = spec.Cmd
	cf.Config.User = spec.User
	cf.Config.WorkingDir = spec.WorkingDir
	if cf.Config.WorkingDir == "" {
		cf.Config.WorkingDir = "/"
	}
	if len(spec.Labels) > 0 {
		cf.Config.Labels = map[string]string{}
		for k, v := range spec.Labels {
			cf.Config.Labels[k] = v
		}
	}
	env := spec.Env
	hasPath := false
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			hasPath = true
		}
	}
	if !hasPath {
		env = append([]string{"PATH=/"}, env...)
	}
	cf.Config.Env = env
	return mutate.ConfigFile(img, cf)
}

// layerTar builds an uncompressed tar of files plus their parent directories
// and a world-writable /tmp.
func layerTar(files map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{"tmp": true}
	var paths []string
	for p := range files {
		clean := strings.TrimPrefix(path.Clean("/"+p), "/")
		if clean == "" {
			return nil, fmt.Errorf("invalid image path %q", p)
		}
		paths = append(paths, p)
		for d := path.Dir(clean); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		src := files[p]
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("image file %s: %w", p, err)
		}
		st, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     strings.TrimPrefix(path.Clean("/"+p), "/"),
			Mode:     int64(st.Mode().Perm()),
			Size:     int64(len(data)),
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GoBuild builds the Go main package pkg (an import path or a ./relative
// path, resolved in dir) as a static linux binary at out (CGO_ENABLED=0,
// -trimpath, stripped).
func GoBuild(ctx context.Context, dir, pkg, out string) error {
	return GoBuildFor(ctx, dir, pkg, out, runtime.GOARCH, "")
}

// GoBuildFor is GoBuild for linux/arch, with extra -ldflags (such as
// "-X main.version=v1").
func GoBuildFor(ctx context.Context, dir, pkg, out, arch, ldflags string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w "+ldflags, "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (linux/%s): %w\n%s", pkg, arch, err, b)
	}
	return nil
}

// BuildGoImage builds the Go main package pkg (in module directory dir) as a
// static binary and packs it as /<base name of pkg> with that binary as the
// entrypoint, running as 65532:65532, into outTar.
func BuildGoImage(ctx context.Context, dir, pkg, image string, outTar string) error {
	bin := outTar + ".bin"
	defer os.Remove(bin)
	if err := GoBuild(ctx, dir, pkg, bin); err != nil {
		return err
	}
	exe := "/" + path.Base(pkg)
	return Build(ctx, ImageSpec{
		Name:       image,
		Files:      map[string]string{exe: bin},
		Entrypoint: []string{exe},
		User:       "65532:65532",
	}, outTar)
}

// BuildPause builds the pause program (test/e2e/cmd/pause) and packs it as
// PauseImage into outTar.
func BuildPause(ctx context.Context, outTar string) error {
	dir, err := ModuleDir()
	if err != nil {
		return err
	}
	return BuildGoImage(ctx, dir, "./cmd/pause", PauseImage, outTar)
}

// BuildPauseLayout builds the pause program for this machine's
// architecture and writes it as a one-platform OCI image layout in dir
// (tagged 1), ready for Push.
func BuildPauseLayout(ctx context.Context, dir string) error {
	mod, err := ModuleDir()
	if err != nil {
		return err
	}
	bin := dir + ".bin"
	defer os.Remove(bin)
	if err := GoBuild(ctx, mod, "./cmd/pause", bin); err != nil {
		return err
	}
	idx, err := Index(map[string]ImageSpec{runtime.GOARCH: {
		Files:      map[string]string{"/pause": bin},
		Entrypoint: []string{"/pause"},
		User:       "65532:65532",
	}}, nil)
	if err != nil {
		return err
	}
	return WriteLayout(dir, idx, "1")
}

// ModulePath is the import path of the test/e2e module.
const ModulePath = "github.com/zmq-operator/zmq-operator/test/e2e"

// ModuleDir returns the directory of the test/e2e module: the nearest parent of
// the working directory whose go.mod declares ModulePath, or else the
// directory this source file was compiled from.
func ModuleDir() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isModule(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Dir(filepath.Dir(file))
		if isModule(d) {
			return d, nil
		}
	}
	return "", errors.New("cannot find the test/e2e module directory (run from inside test/e2e)")
}

func isModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "module" && f[1] == ModulePath {
			return true
		}
	}
	return false
}
