package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
)

// topologySource says where a command reads its topology: a file
// (offline, "-" for stdin) or the cluster the kubectl flags point at.
type topologySource struct {
	flags *genericclioptions.ConfigFlags
	file  string
	stdin io.Reader
}

// get returns the topology named name (cluster), or the one in the file.
// With a file, a name that is given must match the file's.
func (s topologySource) get(ctx context.Context, name string) (*zmqv1.ZMQTopology, error) {
	if s.file != "" {
		t, err := s.readFile()
		if err != nil {
			return nil, err
		}
		if name != "" && name != t.Name {
			return nil, fmt.Errorf("%s holds ZMQTopology %q, not %q", s.file, t.Name, name)
		}
		return t, nil
	}
	if name == "" {
		return nil, errors.New("a topology NAME (or -f FILE) is required")
	}
	c, ns, err := s.client()
	if err != nil {
		return nil, err
	}
	var t zmqv1.ZMQTopology
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &t); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("zmqtopology %q not found in namespace %q", name, ns)
		}
		return nil, fmt.Errorf("getting zmqtopology %s/%s: %w", ns, name, err)
	}
	return &t, nil
}

// readFile parses a ZMQTopology manifest (YAML or JSON), such as the output
// of `kubectl get zt NAME -o yaml`.
func (s topologySource) readFile() (*zmqv1.ZMQTopology, error) {
	var raw []byte
	var err error
	if s.file == "-" {
		raw, err = io.ReadAll(s.stdin)
	} else {
		raw, err = os.ReadFile(s.file)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the topology: %w", err)
	}
	return parseTopology(raw, s.file)
}

// parseTopology decodes one ZMQTopology, refusing other kinds and unknown
// fields (a misspelt field would silently drop a component or a link).
func parseTopology(raw []byte, origin string) (*zmqv1.ZMQTopology, error) {
	var t zmqv1.ZMQTopology
	if err := yaml.UnmarshalStrict(raw, &t); err != nil {
		return nil, fmt.Errorf("%s: not a ZMQTopology manifest: %w", origin, err)
	}
	if t.Kind != "ZMQTopology" || t.APIVersion != zmqv1.GroupVersion.String() {
		return nil, fmt.Errorf("%s: apiVersion/kind is %q/%q, want %s/ZMQTopology", origin, t.APIVersion, t.Kind, zmqv1.GroupVersion)
	}
	return &t, nil
}

// client returns a client for the cluster and namespace of the kubectl
// flags (--kubeconfig, --context, -n, ...).
func (s topologySource) client() (client.Client, string, error) {
	cfg, err := s.flags.ToRESTConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := s.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("namespace: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	if err := zmqv1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, ns, nil
}
