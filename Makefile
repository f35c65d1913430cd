# zmq-operator Makefile. `make help` lists the targets.

K8S_VERSION ?= 1.37.2
GOOS := $(shell go env GOOS)
GOARCH := $(shell go env GOARCH)
K8S_BIN := $(CURDIR)/bin/k8s/$(K8S_VERSION)-$(GOOS)-$(GOARCH)
CONTROLLER_GEN := go tool -modfile=hack/tools/go.mod controller-gen
KUBECTL := $(K8S_BIN)/kubectl

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and RBAC manifests from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:generateEmbeddedObjectMeta=true paths="./api/...;./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	go run ./hack/crd-trim config/crd/bases/*.yaml

.PHONY: generate
generate: ## Generate deepcopy code from markers.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: manifests generate ## Fail if generated files differ from what is committed.
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make manifests generate' and commit"; exit 1; }
	@for m in . examples test/interop; do (cd $$m && go mod tidy -diff >/dev/null) || { echo "$$m: go.mod/go.sum are not tidy: run 'go mod tidy' there and commit"; exit 1; }; done

.PHONY: fmt
fmt: ## Fail on files gofmt would change.
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }

.PHONY: vet
vet: ## Run go vet on every module.
	go vet ./...
	cd examples && go vet ./...

.PHONY: k8s-bins
k8s-bins: ## Build etcd, kube-apiserver and kubectl from the Go module proxy (cold: ~20 min).
	K8S_VERSION=$(K8S_VERSION) hack/build-k8s.sh etcd kube-apiserver kubectl

.PHONY: test
test: verify-generated fmt vet k8s-bins test-unit test-examples test-interop ## Everything: generated files, unit and envtest suites, examples, libzmq/zmq4 interop.

.PHONY: test-unit
test-unit: ## Unit and envtest suites of the operator module (pkg/zmtp with -race).
	KUBEBUILDER_ASSETS=$(K8S_BIN) go test ./... -count=1 -timeout 20m
	go test -race -count=1 ./pkg/zmtp/...

.PHONY: test-examples
test-examples: ## The example workloads against real peers on loopback.
	cd examples && go vet ./... && go test -race -count=1 ./...

.PHONY: test-interop
test-interop: ## pkg/zmtp against libzmq (cgo, needs libzmq3-dev) and go-zeromq/zmq4.
	cd test/interop && go vet ./... && CGO_ENABLED=1 go test -count=1 -timeout 10m ./...

##@ Benchmarks

.PHONY: bench
bench: build ## Throughput of pkg/zmtp vs libzmq vs go-zeromq/zmq4, and the sidecar agent's footprint.
	cd test/interop && CGO_ENABLED=1 go run ./cmd/bench
	go run ./hack/bench/agent --duration 60s

##@ Build

VERSION ?= dev
GO_BUILD := CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: build
build: ## Build the static binaries the images hold: manager, zmq-sidecar, zmq-example.
	$(GO_BUILD) -o bin/manager .
	$(GO_BUILD) -o bin/zmq-sidecar ./sidecar
	cd examples && $(GO_BUILD) -o ../bin/zmq-example ./cmd/zmq-example

.PHONY: run
run: manifests generate ## Run the operator against the current kubeconfig.
	go run . --leader-elect=false

##@ Demo

.PHONY: demo
demo: k8s-bins build ## Start a local control plane, run the operator, apply the samples, print the topologies (KEEP=1 keeps it running).
	KUBEBUILDER_ASSETS=$(K8S_BIN) go run ./hack/demo --manager=bin/manager --kubectl=$(KUBECTL) $(if $(KEEP),--keep)
