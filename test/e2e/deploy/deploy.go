// Package deploy puts zmq-operator into a cluster the way a user would:
// images packed from the binaries `make build` produces (the same binaries
// the Dockerfile's targets hold), then `kubectl apply -k config/default`.
// The e2e suite and the demo share it.
package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/zmq-operator/zmq-operator/test/e2e/images"
)

// Images are the images the operator, its devices and the samples use, and
// the binaries in bin/ they hold. The tags match config/manager (its images
// and SIDECAR_IMAGE) and config/samples, so nothing needs patching.
var Images = []struct{ Name, Binary string }{
	{"zmq-operator:dev", "manager"},
	{"zmq-sidecar:dev", "zmq-sidecar"},
	{"zmq-operator-examples:dev", "zmq-example"},
}

// Importer loads an image tarball into the cluster's container runtime.
type Importer interface {
	ImportImage(ctx context.Context, tarball string) error
}

// LoadImages packs each binary of repoRoot/bin into a static, non-root
// image and imports it.
func LoadImages(ctx context.Context, repoRoot string, into Importer) error {
	dir, err := os.MkdirTemp("", "zmq-images")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, img := range Images {
		bin := filepath.Join(repoRoot, "bin", img.Binary)
		if err := static(bin); err != nil {
			return fmt.Errorf("%s: %w (run `make build`)", img.Name, err)
		}
		tar := filepath.Join(dir, img.Binary+".tar")
		if err := images.Build(ctx, images.ImageSpec{
			Name:       img.Name,
			Files:      map[string]string{"/" + img.Binary: bin},
			Entrypoint: []string{"/" + img.Binary},
			User:       "65532:65532",
		}, tar); err != nil {
			return fmt.Errorf("building %s: %w", img.Name, err)
		}
		if err := into.ImportImage(ctx, tar); err != nil {
			return fmt.Errorf("importing %s: %w", img.Name, err)
		}
	}
	return nil
}

// static checks that bin is a statically linked executable: the images have
// no C library, so a binary built with cgo would not start in them.
func static(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; the images need CGO_ENABLED=0 binaries", bin)
		}
	}
	return nil
}

// Kubectl runs a kubectl binary against one kubeconfig.
type Kubectl struct {
	Bin, Kubeconfig string
}

// Run runs kubectl and returns its stdout; the error carries stderr.
func (k Kubectl) Run(ctx context.Context, args ...string) (string, error) {
	return k.RunStdin(ctx, "", args...)
}

// RunStdin runs kubectl with stdin (for `apply -f -`).
func (k Kubectl) RunStdin(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, k.Bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.Kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Operator installs the operator from config/default and waits until its
// Deployment has rolled out and its validating webhook answers.
func Operator(ctx context.Context, k Kubectl, repoRoot string) error {
	if _, err := k.Run(ctx, "apply", "-k", filepath.Join(repoRoot, "config", "default")); err != nil {
		return err
	}
	if _, err := k.Run(ctx, "-n", "zmq-operator-system", "rollout", "status",
		"deployment/zmq-operator-controller-manager", "--timeout=180s"); err != nil {
		return err
	}
	return WaitForWebhook(ctx, k, repoRoot, time.Minute)
}

// WaitForWebhook waits until the API server reaches the operator's
// validating webhook, by a server-side dry run of a sample topology. The
// rollout is complete when the manager's pod is Ready (its readiness
// includes the webhook server), but the webhook Service routes to it only
// once the EndpointSlice and kube-proxy have caught up, and until then every
// topology write is refused (failurePolicy: Fail).
func WaitForWebhook(ctx context.Context, k Kubectl, repoRoot string, timeout time.Duration) error {
	sample := filepath.Join(repoRoot, "config", "samples", "zmq_v1alpha1_pipeline.yaml")
	deadline := time.Now().Add(timeout)
	for {
		_, err := k.Run(ctx, "-n", "default", "apply", "--dry-run=server", "-f", sample)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the validating webhook does not answer after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Pod is what callers need of a pod.
type Pod struct {
	Name, IP, UID string
	Ready         bool
}

// Pods lists the pods of one component of a topology, leaving out pods
// being deleted.
func Pods(ctx context.Context, k Kubectl, ns, topology, component string) ([]Pod, error) {
	out, err := k.Run(ctx, "-n", ns, "get", "pods", "-l",
		"zmq.topology.dev/topology="+topology+",zmq.topology.dev/component="+component, "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name, UID         string
				DeletionTimestamp *string
			}
			Status struct {
				PodIP      string
				Conditions []struct{ Type, Status string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	var ps []Pod
	for _, it := range list.Items {
		if it.Metadata.DeletionTimestamp != nil {
			continue
		}
		p := Pod{Name: it.Metadata.Name, IP: it.Status.PodIP, UID: it.Metadata.UID}
		for _, c := range it.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				p.Ready = true
			}
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Stats reads an example workload's /stats through its pod IP.
func Stats(ctx context.Context, p Pod, into any) error {
	return httpJSON(ctx, http.MethodGet, "http://"+p.IP+":8080/stats", into)
}

// SetPaused pauses or resumes an example producer.
func SetPaused(ctx context.Context, p Pod, paused bool) error {
	path := "/resume"
	if paused {
		path = "/pause"
	}
	return httpJSON(ctx, http.MethodPost, "http://"+p.IP+":8080"+path, nil)
}

// Get fetches a URL (a pod's metrics, say) with a short deadline.
func Get(ctx context.Context, url string) (string, error) {
	var body bytes.Buffer
	err := do(ctx, http.MethodGet, url, &body)
	return body.String(), err
}

func httpJSON(ctx context.Context, method, url string, into any) error {
	var body bytes.Buffer
	if err := do(ctx, method, url, &body); err != nil {
		return err
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(body.Bytes(), into)
}

func do(ctx context.Context, method, url string, body io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	_, err = io.Copy(body, resp.Body)
	return err
}

// Registry names the images of one installation pulled from a registry:
// Host/<name>:Tag for each name of Images (without its :dev tag).
type Registry struct {
	Host, Tag string
}

// Ref returns the reference of one image, e.g. Ref("zmq-sidecar").
func (r Registry) Ref(name string) string { return r.Host + "/" + name + ":" + r.Tag }

// Manager, Sidecar and Examples are the references of the three images.
func (r Registry) Manager() string  { return r.Ref("zmq-operator") }
func (r Registry) Sidecar() string  { return r.Ref("zmq-sidecar") }
func (r Registry) Examples() string { return r.Ref("zmq-operator-examples") }

// PushImages packs each binary of repoRoot/bin (built for this machine's
// architecture by `make build`) into a one-platform OCI image layout, as
// `make images` does for every platform, and pushes it to the registry over
// plain HTTP, as `make push INSECURE=1` does.
func PushImages(ctx context.Context, repoRoot string, to Registry) error {
	dir, err := os.MkdirTemp("", "zmq-images")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, img := range Images {
		name, _, _ := strings.Cut(img.Name, ":")
		bin := filepath.Join(repoRoot, "bin", img.Binary)
		if err := static(bin); err != nil {
			return fmt.Errorf("%s: %w (run `make build`)", name, err)
		}
		idx, err := images.Index(map[string]images.ImageSpec{runtime.GOARCH: {
			Files:      map[string]string{"/" + img.Binary: bin},
			Entrypoint: []string{"/" + img.Binary},
			User:       "65532:65532",
		}}, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		layout := filepath.Join(dir, name)
		if err := images.WriteLayout(layout, idx, to.Tag); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := images.Push(ctx, layout, to.Ref(name), true); err != nil {
			return err
		}
	}
	return nil
}

// Methods are the ways a user installs the operator, each exercised by
// the e2e suite: the Helm chart and the release manifest.
const (
	Helm      = "helm"
	Installer = "install.yaml"
)

// Namespace is the operator's namespace with either method.
const Namespace = "zmq-operator-system"

// Install installs the operator with method (Helm: `helm install
// zmq-operator charts/zmq-operator` with the image values pointing at reg;
// Installer: `kubectl apply -f dist/install.yaml` as hack/build-installer.sh
// writes it for reg's images), secure metrics on, and waits until the
// Deployment has rolled out and the webhook answers. helmArgs are extra
// `helm install` arguments (--set …).
func Install(ctx context.Context, k Kubectl, repoRoot, method string, reg Registry, helmArgs ...string) error {
	switch method {
	case Helm:
		args := []string{"install", "zmq-operator", filepath.Join(repoRoot, "charts", "zmq-operator"),
			"--namespace", Namespace, "--create-namespace",
			"--set", "image.registry=" + reg.Host, "--set", "image.repository=zmq-operator", "--set", "image.tag=" + reg.Tag,
			"--set", "sidecarImage.registry=" + reg.Host, "--set", "sidecarImage.repository=zmq-sidecar", "--set", "sidecarImage.tag=" + reg.Tag,
			"--set", "metrics.secure=true"}
		if _, err := RunHelm(ctx, k, repoRoot, append(args, helmArgs...)...); err != nil {
			return err
		}
	case Installer:
		out := filepath.Join(os.TempDir(), "zmq-e2e-install.yaml")
		cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "hack", "build-installer.sh"), out, reg.Manager(), reg.Sidecar())
		cmd.Env = append(os.Environ(), "KUBECTL="+k.Bin)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("hack/build-installer.sh: %w: %s", err, b)
		}
		if _, err := k.Run(ctx, "apply", "-f", out); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown install method %q", method)
	}
	if _, err := k.Run(ctx, "-n", Namespace, "rollout", "status",
		"deployment/zmq-operator-controller-manager", "--timeout=180s"); err != nil {
		return err
	}
	return WaitForWebhook(ctx, k, repoRoot, time.Minute)
}

// Uninstall removes what Install installed, the CRD and the operator's
// namespace included, and waits until they are gone.
func Uninstall(ctx context.Context, k Kubectl, repoRoot, method string) error {
	switch method {
	case Helm:
		if _, err := RunHelm(ctx, k, repoRoot, "uninstall", "zmq-operator", "--namespace", Namespace, "--wait"); err != nil {
			return err
		}
	case Installer:
		if _, err := k.Run(ctx, "delete", "-f", filepath.Join(os.TempDir(), "zmq-e2e-install.yaml"), "--ignore-not-found", "--wait"); err != nil {
			return err
		}
	}
	_, err := k.Run(ctx, "delete", "namespace/"+Namespace, "crd/zmqtopologies.zmq.topology.dev", "--ignore-not-found", "--wait", "--timeout=180s")
	return err
}

// RunHelm runs the pinned helm (hack/tools/go.mod) against k's cluster.
func RunHelm(ctx context.Context, k Kubectl, repoRoot string, args ...string) (string, error) {
	tools := filepath.Join(repoRoot, "hack", "tools")
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "-modfile=" + filepath.Join(tools, "go.mod"), "helm"}, args...)...)
	cmd.Dir = tools
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.Kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
