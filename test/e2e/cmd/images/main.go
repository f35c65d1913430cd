// Command images builds zmq-operator's release images without Docker and
// pushes them (`make images`, `make push`):
//
//	images build --repo=ROOT --out=dist/images --version=v1.2.3 --revision=SHA [--platforms=linux/amd64,linux/arm64]
//	images push  --dir=dist/images --registry=ghcr.io/acme --tag=v1.2.3 [--insecure]
//
// build cross-compiles each binary statically (CGO_ENABLED=0) for every
// platform, packs it alone onto an empty base (no shell, no libc, no
// /etc/passwd: the images run as the numeric user 65532:65532), and writes
// one multi-platform OCI image layout per image to OUT/<name>/, with the
// org.opencontainers.image.* labels and annotations, and an SPDX SBOM per
// image and platform beside it (OUT/<name>-linux-<arch>.spdx.json, from the
// binary's embedded build information). push sends each layout
// to REGISTRY/<name>:TAG and prints the index digests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zmq-operator/zmq-operator/test/e2e/images"
)

// Image is one release image: the Go main package it holds, in module
// directory Dir of the repository.
type Image struct {
	Name, Dir, Pkg, Binary, Title string
}

// Images are the release images. Their names are those config/ and
// config/samples use.
var Images = []Image{
	{"zmq-operator", ".", ".", "manager", "zmq-operator manager"},
	{"zmq-sidecar", ".", "./sidecar", "zmq-sidecar", "zmq-sidecar: the sockets' agent and the devices"},
	{"zmq-operator-examples", "examples", "./cmd/zmq-example", "zmq-example", "zmq-operator example workloads"},
}

const usage = `usage:
  images build --repo=ROOT --out=DIR --version=V --revision=SHA [--platforms=linux/amd64,linux/arm64]
  images push  --dir=DIR --registry=HOST/PATH --tag=TAG [--insecure]`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return errors.New("missing subcommand")
	}
	switch args[0] {
	case "build":
		return build(ctx, args[1:])
	case "push":
		return push(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q\n%s", args[0], usage)
}

func build(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("images build", flag.ContinueOnError)
	repo := fs.String("repo", "../..", "Root of the zmq-operator repository.")
	out := fs.String("out", "dist/images", "Directory of the OCI layouts, one per image.")
	version := fs.String("version", "dev", "Version stamped into the binaries (main.version) and the labels; the layouts' tag.")
	revision := fs.String("revision", "", "Source revision (git commit) for the labels.")
	source := fs.String("source", "https://github.com/zmq-operator/zmq-operator", "Source repository URL for the labels.")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "Comma-separated linux/<arch> platforms.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var arches []string
	for _, p := range strings.Split(*platforms, ",") {
		arch, ok := strings.CutPrefix(strings.TrimSpace(p), "linux/")
		if !ok || arch == "" {
			return fmt.Errorf("--platforms: %q is not linux/<arch>", p)
		}
		arches = append(arches, arch)
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "zmq-images")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, img := range Images {
		labels := map[string]string{
			"org.opencontainers.image.title":    img.Title,
			"org.opencontainers.image.source":   *source,
			"org.opencontainers.image.version":  *version,
			"org.opencontainers.image.licenses": "Apache-2.0",
		}
		if *revision != "" {
			labels["org.opencontainers.image.revision"] = *revision
		}
		specs := map[string]images.ImageSpec{}
		for _, arch := range arches {
			bin := filepath.Join(tmp, img.Binary+"-"+arch)
			if err := images.GoBuildFor(ctx, filepath.Join(root, img.Dir), img.Pkg, bin, arch, "-X main.version="+*version); err != nil {
				return err
			}
			if err := writeSBOM(bin, img.Name, *version, arch, filepath.Join(*out, img.Name+"-linux-"+arch+".spdx.json")); err != nil {
				return err
			}
			exe := "/" + img.Binary
			specs[arch] = images.ImageSpec{
				Files:      map[string]string{exe: bin},
				Entrypoint: []string{exe},
				User:       "65532:65532",
				Labels:     labels,
			}
		}
		idx, err := images.Index(specs, labels)
		if err != nil {
			return fmt.Errorf("%s: %w", img.Name, err)
		}
		dir := filepath.Join(*out, img.Name)
		if err := images.WriteLayout(dir, idx, *version); err != nil {
			return fmt.Errorf("%s: %w", img.Name, err)
		}
		if err := describe(dir, img.Name, idx); err != nil {
			return err
		}
	}
	return nil
}

// describe prints an image's index digest and each platform's compressed
// size (config, manifest and layers).
func describe(dir, name string, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	var sizes []string
	for _, desc := range m.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		im, err := img.Manifest()
		if err != nil {
			return err
		}
		size := desc.Size + im.Config.Size
		for _, l := range im.Layers {
			size += l.Size
		}
		sizes = append(sizes, fmt.Sprintf("%s/%s %.1f MiB", desc.Platform.OS, desc.Platform.Architecture, float64(size)/(1<<20)))
	}
	fmt.Printf("%s: %s %s (%s)\n", dir, name, d, strings.Join(sizes, ", "))
	return nil
}

func push(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("images push", flag.ContinueOnError)
	dir := fs.String("dir", "dist/images", "Directory of the OCI layouts `images build` wrote.")
	registry := fs.String("registry", "", "Registry and path the images go to: REGISTRY/<name>:TAG (required).")
	tag := fs.String("tag", "", "Tag to push; empty keeps each layout's own tag (the build's --version).")
	insecure := fs.Bool("insecure", false, "Speak plain HTTP to the registry (it does so on localhost anyway).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *registry == "" {
		return errors.New("--registry is required (make push REGISTRY=host/path TAG=...)")
	}
	for _, img := range Images {
		d := filepath.Join(*dir, img.Name)
		t := *tag
		if t == "" {
			_, own, err := images.ReadLayout(d)
			if err != nil {
				return fmt.Errorf("%s (run `make images`): %w", d, err)
			}
			t = own
		}
		ref := strings.TrimSuffix(*registry, "/") + "/" + img.Name + ":" + t
		digest, err := images.Push(ctx, d, ref, *insecure)
		if err != nil {
			return err
		}
		fmt.Printf("%s@%s\n", ref, digest)
	}
	return nil
}
