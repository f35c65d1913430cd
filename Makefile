# zmq-operator Makefile. `make help` lists the targets.

K8S_VERSION ?= 1.37.2
GOOS := $(shell go env GOOS)
GOARCH := $(shell go env GOARCH)
K8S_BIN := $(CURDIR)/bin/k8s/$(K8S_VERSION)-$(GOOS)-$(GOARCH)
CONTROLLER_GEN := go tool -modfile=hack/tools/go.mod controller-gen
HELM := go tool -modfile=hack/tools/go.mod helm
KUBECTL := $(K8S_BIN)/kubectl

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD, RBAC and webhook manifests from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:generateEmbeddedObjectMeta=true webhook paths="./api/...;./controllers/...;./internal/webhook/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook
	go run ./hack/crd-trim config/crd/bases/*.yaml
	go run ./hack/chart-sync config charts/zmq-operator

.PHONY: generate
generate: ## Generate deepcopy code from markers.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: manifests generate ## Fail if generated files differ from what is committed.
	@git diff --exit-code -- api config charts || { echo "generated files are stale: run 'make manifests generate' and commit"; exit 1; }
	@for m in . examples test/interop; do (cd $$m && go mod tidy -diff >/dev/null) || { echo "$$m: go.mod/go.sum are not tidy: run 'go mod tidy' there and commit"; exit 1; }; done

.PHONY: fmt
fmt: ## Fail on files gofmt would change.
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }

.PHONY: vet
vet: ## Run go vet on every module.
	go vet ./...
	cd examples && go vet ./...

.PHONY: k8s-bins
k8s-bins: ## Build etcd, kube-apiserver and kubectl from the Go module proxy (cold: ~6-20 min).
	K8S_VERSION=$(K8S_VERSION) hack/build-k8s.sh etcd kube-apiserver kubectl

.PHONY: cluster-bins
cluster-bins: k8s-bins ## Also build kube-controller-manager, kube-scheduler, kubelet, kube-proxy, CoreDNS, the registry and the NetworkPolicy enforcer (~8 min more).
	K8S_VERSION=$(K8S_VERSION) hack/build-k8s.sh kube-controller-manager kube-scheduler kubelet kube-proxy coredns registry kube-network-policies

.PHONY: prereqs
prereqs: ## Check (as root on Debian: install) the host packages and Go toolchain for `make test`; MODE=demo|cluster for the others.
	hack/prereqs.sh $(or $(MODE),test)

.PHONY: test
test: ## Everything: host prerequisites first, generated files, unit and envtest suites, images, examples, libzmq/zmq4 interop, and the real-cluster e2e suite where the machine allows.
	hack/prereqs.sh test
	$(MAKE) verify-generated fmt vet k8s-bins test-unit test-images test-examples test-interop test-e2e-if-possible

.PHONY: test-unit
test-unit: ## Unit and envtest suites of the operator module (pkg/zmtp with -race; charts/ runs helm lint and a server dry run of the chart).
	$(HELM) version --short # builds the pinned helm before the tests use it (cold: a few minutes)
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test ./... -count=1 -timeout 20m
	go test -race -count=1 ./pkg/zmtp/...

.PHONY: test-images
test-images: ## The image packing of make images/push and the e2e suite: OCI layouts, multi-arch index, push to an in-process registry.
	cd test/e2e && go vet ./images/ ./cmd/images/ && go test -count=1 ./images/

.PHONY: test-examples
test-examples: ## The example workloads against real peers on loopback.
	cd examples && go vet ./... && go test -race -count=1 ./...

.PHONY: test-interop
test-interop: ## pkg/zmtp against libzmq (cgo, needs libzmq3-dev) and go-zeromq/zmq4.
	cd test/interop && go vet ./... && CGO_ENABLED=1 go test -count=1 -timeout 10m ./...

# The e2e suite needs Linux and root (it runs containerd, kubelet, iptables).
CAN_RUN_CLUSTER := $(shell [ "$$(uname -s)" = Linux ] && [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: test-e2e
test-e2e: cluster-bins build ## Real single-node cluster with a registry: the operator installed with helm, then dist/install.yaml, then namespaced; the samples exchanging messages.
	cd test/e2e && go vet -tags e2e ./... && K8S_BIN=$(K8S_BIN) go test -tags e2e -p 1 -count=1 -timeout 40m -v ./...

.PHONY: test-e2e-if-possible
test-e2e-if-possible:
ifeq ($(CAN_RUN_CLUSTER),yes)
	$(MAKE) test-e2e
else
	@echo "skipping the e2e suite: it needs Linux and root (make test-e2e)"
endif

##@ Local cluster

.PHONY: cluster-up
cluster-up: ## Start the single-node cluster (Linux, root) and print its KUBECONFIG.
	hack/prereqs.sh cluster
	$(MAKE) cluster-bins
	cd test/e2e && go run ./cmd/cluster up --work-dir=$(CURDIR)/.cluster --bin-dir=$(K8S_BIN)

.PHONY: cluster-down
cluster-down: ## Tear the single-node cluster down, whatever state it is in.
	cd test/e2e && go run ./cmd/cluster down --work-dir=$(CURDIR)/.cluster

##@ Benchmarks

.PHONY: bench
bench: build ## Throughput of pkg/zmtp vs libzmq vs go-zeromq/zmq4, the sidecar agent's footprint, the link poller against 1,000 sidecars.
	cd test/interop && CGO_ENABLED=1 go run ./cmd/bench
	go run ./hack/bench/agent --duration 60s
	go run ./hack/bench/linkpoll --agents 1000 --period 15s --rounds 3

##@ Docs

.PHONY: docs
docs: ## Draw the README's picture docs/pubsub.svg from the captured sample docs/pubsub.yaml (kubectl zmq graph -f, offline) with Graphviz, and plot docs/autoscaling.png from the e2e run's docs/autoscaling.csv with gnuplot.
	hack/prereqs.sh docs
	go run ./cmd/kubectl-zmq graph -f docs/pubsub.yaml -o dot > docs/pubsub.dot
	dot -Tsvg docs/pubsub.dot -o docs/pubsub.svg
	gnuplot docs/autoscaling.gp

N ?= 50,200,1000
KWOK := $(CURDIR)/bin/kwok

.PHONY: kwok
kwok: ## Build kwok (fake nodes for the scale benchmark) at the version pinned in hack/tools/go.mod.
	go build -modfile=hack/tools/go.mod -o $(KWOK) sigs.k8s.io/kwok/cmd/kwok

.PHONY: bench-scale
bench-scale: cluster-bins kwok ## The operator at scale vs the same objects applied directly (the floor): N=50,200,1000 topologies on etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok fake nodes.
	CGO_ENABLED=0 go build -o bin/manager .
	go run ./hack/bench/scale --n=$(N) --manager=bin/manager --k8s-bin=$(K8S_BIN) --kwok=$(KWOK) \
		--kwok-dir=$$(go list -modfile=hack/tools/go.mod -m -f '{{.Dir}}' sigs.k8s.io/kwok) $(BENCH_ARGS)

##@ Build

VERSION ?= dev
GO_BUILD := CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: build
build: ## Build the static binaries the images hold: manager, zmq-sidecar, zmq-example; and the kubectl-zmq plugin.
	$(GO_BUILD) -o bin/manager .
	$(GO_BUILD) -o bin/zmq-sidecar ./sidecar
	$(GO_BUILD) -o bin/kubectl-zmq ./cmd/kubectl-zmq
	cd examples && $(GO_BUILD) -o ../bin/zmq-example ./cmd/zmq-example

.PHONY: helm-lint
helm-lint: ## helm lint charts/zmq-operator (the pinned helm of hack/tools/go.mod).
	$(HELM) lint --strict charts/zmq-operator

.PHONY: run
run: manifests generate ## Run the operator against the current kubeconfig.
	go run . --leader-elect=false --webhook-cert-mode=none --metrics-secure=false

##@ Release

# The images of a release: REGISTRY/<name>:TAG (no REGISTRY: bare names, as
# config/ has them). An explicit IMG or SIDECAR_IMG (a tag or a digest) wins.
TAG ?= $(VERSION)
REGISTRY ?=
IMG ?= $(if $(REGISTRY),$(REGISTRY)/)zmq-operator:$(TAG)
SIDECAR_IMG ?= $(if $(REGISTRY),$(REGISTRY)/)zmq-sidecar:$(TAG)
KUBECTL_BIN ?= $(if $(wildcard $(KUBECTL)),$(KUBECTL),kubectl)

PLATFORMS ?= linux/amd64,linux/arm64
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: images
images: ## Build the manager, zmq-sidecar and zmq-operator-examples images (PLATFORMS, no Docker) as OCI layouts in dist/images/<name>/, tagged TAG.
	cd test/e2e && go run ./cmd/images build --repo=$(CURDIR) --out=$(CURDIR)/dist/images --version=$(TAG) --revision=$(REVISION) --platforms=$(PLATFORMS)

.PHONY: push
push: ## Push dist/images to REGISTRY/<name>:TAG (Docker config credentials; INSECURE=1 for plain HTTP).
	@[ -n "$(REGISTRY)" ] || { echo "make push needs REGISTRY=host/path (and TAG=...)"; exit 1; }
	cd test/e2e && go run ./cmd/images push --dir=$(CURDIR)/dist/images --registry=$(REGISTRY) --tag=$(TAG) $(if $(INSECURE),--insecure)

.PHONY: build-installer
build-installer: ## Write dist/install.yaml (CRD, RBAC, webhook, manager) with IMG and SIDECAR_IMG (REGISTRY/…:TAG).
	KUBECTL=$(KUBECTL_BIN) hack/build-installer.sh dist/install.yaml $(IMG) $(SIDECAR_IMG)

##@ Deployment (the current kubeconfig's cluster)

.PHONY: install
install: ## Install the CRD.
	$(KUBECTL_BIN) kustomize config/crd | $(KUBECTL_BIN) apply --server-side -f -

.PHONY: uninstall
uninstall: ## Remove the CRD, and with it every ZMQTopology (IGNORE_NOT_FOUND=true to not fail).
	$(KUBECTL_BIN) kustomize config/crd | $(KUBECTL_BIN) delete --ignore-not-found=$(or $(IGNORE_NOT_FOUND),false) -f -

.PHONY: deploy
deploy: build-installer ## Install the operator with IMG and SIDECAR_IMG (push them first: make images push).
	$(KUBECTL_BIN) apply --server-side -f dist/install.yaml

.PHONY: undeploy
undeploy: ## Remove what deploy installed (IGNORE_NOT_FOUND=true to not fail).
	$(KUBECTL_BIN) kustomize config/default | $(KUBECTL_BIN) delete --ignore-not-found=$(or $(IGNORE_NOT_FOUND),false) -f -

##@ Docker (not used by this project's own builds, which need no Docker: make images)

CONTAINER_TOOL ?= docker
EXAMPLES_IMG ?= $(if $(REGISTRY),$(REGISTRY)/)zmq-operator-examples:$(TAG)

.PHONY: docker-build
docker-build: ## Build the three images with Docker from the Dockerfile (IMG, SIDECAR_IMG, EXAMPLES_IMG).
	@command -v $(CONTAINER_TOOL) >/dev/null || { echo "$(CONTAINER_TOOL) is not installed; this project builds its images without Docker: make images"; exit 1; }
	$(CONTAINER_TOOL) build --build-arg VERSION=$(TAG) --target manager -t $(IMG) .
	$(CONTAINER_TOOL) build --build-arg VERSION=$(TAG) --target sidecar -t $(SIDECAR_IMG) .
	$(CONTAINER_TOOL) build --build-arg VERSION=$(TAG) --target examples -t $(EXAMPLES_IMG) .

.PHONY: docker-buildx
docker-buildx: ## Build and push the three images for PLATFORMS with docker buildx.
	@command -v $(CONTAINER_TOOL) >/dev/null || { echo "$(CONTAINER_TOOL) is not installed; this project builds its images without Docker: make images push"; exit 1; }
	- $(CONTAINER_TOOL) buildx create --name zmq-operator-builder
	$(CONTAINER_TOOL) buildx use zmq-operator-builder
	$(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) --build-arg VERSION=$(TAG) --target manager -t $(IMG) .
	$(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) --build-arg VERSION=$(TAG) --target sidecar -t $(SIDECAR_IMG) .
	$(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) --build-arg VERSION=$(TAG) --target examples -t $(EXAMPLES_IMG) .
	- $(CONTAINER_TOOL) buildx rm zmq-operator-builder

##@ Demo

.PHONY: demo
demo: ## A single-node cluster built from source, the operator, the samples Ready and exchanging messages (KEEP=1 keeps it running).
	hack/prereqs.sh demo
ifeq ($(CAN_RUN_CLUSTER),yes)
	@echo "make demo: the first run builds Kubernetes and CoreDNS from source: ~10-25 minutes on two cores; later runs take about a minute."
	$(MAKE) cluster-bins build
	cd test/e2e && go run ./cmd/demo --repo=$(CURDIR) --bin-dir=$(K8S_BIN) --work-dir=$(CURDIR)/.cluster $(if $(KEEP),--keep)
else
	@echo "make demo: a real cluster needs Linux and root; showing the control-plane-only demo (no pods run there)."
	$(MAKE) demo-control-plane
endif

.PHONY: demo-control-plane
demo-control-plane: k8s-bins build ## etcd + kube-apiserver only (no kubelet): the operator renders the samples; nothing runs.
	KUBEBUILDER_ASSETS=$(K8S_BIN) go run ./hack/demo --manager=bin/manager --kubectl=$(KUBECTL) $(if $(KEEP),--keep)
