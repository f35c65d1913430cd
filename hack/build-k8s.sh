#!/usr/bin/env bash
# build-k8s.sh builds the control-plane binaries this project needs from the Go
# module proxy (no other downloads) into bin/k8s/<version>-<os>-<arch>/.
#
#   hack/build-k8s.sh [component...]
#
# Components: etcd kube-apiserver kubectl (the default, what envtest and the
# demo need) and kube-controller-manager kube-scheduler kubelet kube-proxy
# coredns registry kube-network-policies (the local cluster, test/e2e/cluster;
# registry is CNCF distribution, the node's image registry;
# kube-network-policies is SIG Network's NetworkPolicy enforcer, built from
# hack/kube-network-policies with nftcompat/queue.go in place of
# github.com/google/nftables' expr/queue.go, see there). A binary that exists and
# reports the expected version is not rebuilt. A cold build of kube-apiserver takes ~15-20 minutes on two
# cores; with a warm Go build cache, well under a minute.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.7.3}
COREDNS_VERSION=${COREDNS_VERSION:-1.14.7} # must match hack/coredns/go.mod
REGISTRY_VERSION=${REGISTRY_VERSION:-3.1.2} # must match hack/registry/go.mod
NETPOL_VERSION=${NETPOL_VERSION:-v0.8.0} # must match hack/kube-network-policies/go.mod and main.go
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
goos=$(go env GOOS)
goarch=$(go env GOARCH)
out=${K8S_BIN_DIR:-$root/bin/k8s/$K8S_VERSION-$goos-$goarch}
mkdir -p "$out"

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kube-apiserver kubectl)

major=${K8S_VERSION%%.*}
minor=${K8S_VERSION#*.}; minor=${minor%%.*}
ver_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"

# current <binary> <version-args...>: true when the binary exists and reports
# the version we pin.
current() {
  local bin=$out/$1 want=$2; shift 2
  [ -x "$bin" ] && "$bin" "$@" 2>/dev/null | grep -q -- "$want"
}

for c in "${components[@]}"; do
  case $c in
    etcd)
      if current etcd "$ETCD_VERSION" --version; then echo "etcd $ETCD_VERSION: up to date"; continue; fi
      echo "building etcd $ETCD_VERSION ..."
      (cd "$root/hack/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.Version=$ETCD_VERSION" -o "$out/etcd" .)
      ;;
    kubectl)
      if current kubectl "v$K8S_VERSION" version --client; then echo "kubectl v$K8S_VERSION: up to date"; continue; fi
      echo "building kubectl v$K8S_VERSION ..."
      (cd "$root/hack/k8s" && CGO_ENABLED=0 go build -trimpath -ldflags "$ver_ldflags" -o "$out/kubectl" ./cmd/kubectl)
      ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy)
      if current "$c" "v$K8S_VERSION" --version; then echo "$c v$K8S_VERSION: up to date"; continue; fi
      echo "building $c v$K8S_VERSION (cold: minutes) ..."
      cgo=0; [ "$c" = kubelet ] && cgo=${KUBELET_CGO:-0}
      (cd "$root/hack/k8s" && CGO_ENABLED=$cgo go build -trimpath -ldflags "$ver_ldflags" -o "$out/$c" "k8s.io/kubernetes/cmd/$c")
      ;;
    coredns)
      if current coredns "CoreDNS-$COREDNS_VERSION" -version; then echo "coredns $COREDNS_VERSION: up to date"; continue; fi
      echo "building coredns $COREDNS_VERSION (plugin subset, hack/coredns) ..."
      (cd "$root/hack/coredns" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/coredns" .)
      ;;
    registry)
      if current registry "v$REGISTRY_VERSION" --version; then echo "registry $REGISTRY_VERSION: up to date"; continue; fi
      echo "building registry $REGISTRY_VERSION (CNCF distribution, filesystem storage only, hack/registry) ..."
      (cd "$root/hack/registry" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=v$REGISTRY_VERSION" -o "$out/registry" .)
      ;;
    kube-network-policies)
      if current kube-network-policies "$NETPOL_VERSION" --version; then echo "kube-network-policies $NETPOL_VERSION: up to date"; continue; fi
      echo "building kube-network-policies $NETPOL_VERSION (hack/kube-network-policies, nfqueue through the xtables NFQUEUE target) ..."
      # A vendored copy outside the repo, so that one file of a dependency
      # can be swapped (go build -overlay refuses files in the module
      # cache); at a fixed path, so that the Go build cache serves rebuilds.
      tmp=${TMPDIR:-/tmp}/zmq-operator-build-kube-network-policies-$NETPOL_VERSION
      rm -rf "$tmp" && mkdir -p "$tmp"
      src=$root/hack/kube-network-policies
      cp "$src/go.mod" "$src/go.sum" "$src/main.go" "$tmp/"
      (cd "$tmp" && go mod vendor &&
        cp "$src/nftcompat/queue.go" vendor/github.com/google/nftables/expr/queue.go &&
        CGO_ENABLED=0 go build -mod=vendor -trimpath -ldflags "-s -w" -o "$out/kube-network-policies" .)
      rm -rf "$tmp"
      ;;
    *) echo "unknown component $c" >&2; exit 2 ;;
  esac
done
echo "$out"
