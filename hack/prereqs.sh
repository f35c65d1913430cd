#!/usr/bin/env bash
# Check every host prerequisite before any long build, and install what is
# missing when that can be done here (root on Debian). Shared by .ci/run,
# `make test`, `make demo` and `make cluster-up`.
#
#   hack/prereqs.sh test     make, git, pkg-config + libzmq and python3-zmq (interop tests),
#                            promtool (metrics lint), graphviz; plus the cluster set
#                            when the e2e suite will run (root on Linux).
#   hack/prereqs.sh demo     make, git; plus the cluster set on Linux (as
#                            root the demo runs a real cluster; a non-root
#                            user without the packages is told how to get
#                            them instead of building for an hour first).
#   hack/prereqs.sh cluster  make, git and the cluster set: containerd, runc,
#                            CNI plugins, iptables, conntrack, iproute2,
#                            nftables; as root also the kernel's netfilter
#                            queue (the NetworkPolicy enforcer needs it).
#   hack/prereqs.sh docs     make, git, graphviz (`make docs` draws with dot;
#                            the test mode needs it too: the plugin's DOT is
#                            rendered by the unit and e2e tests), gnuplot
#                            (`make docs` plots docs/autoscaling.png).
#
# The Go toolchain is checked in every mode against go.mod's go line.
# Exit status: 0 when everything is present (or was installed), 1 otherwise,
# with the exact command to run printed on stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mode=${1:-test}
case "$mode" in
  test | demo | cluster | docs) ;;
  -h | --help)
    sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *)
    echo "usage: $0 test|demo|cluster|docs" >&2
    exit 2
    ;;
esac

# Administration commands (iptables, conntrack) live in sbin, which a
# non-root user's PATH often lacks; Go is often in /usr/local/go/bin.
export PATH=$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin

is_root=no
[ "$(id -u)" = 0 ] && is_root=yes
is_linux=no
[ "$(uname -s)" = Linux ] && is_linux=yes

need=()
have() { command -v "$1" >/dev/null 2>&1; }

# The build and test tools.
have make || need+=(make)
have git || need+=(git)
if [ "$mode" = test ]; then
  have pkg-config || need+=(pkg-config)
  if ! have pkg-config || ! pkg-config --exists libzmq 2>/dev/null; then
    need+=(libzmq3-dev)
  fi
  have promtool || need+=(prometheus)
  # pyzmq (Debian's, on libzmq): runs the ZAP handler example of docs/curve.md.
  /usr/bin/python3 -c 'import zmq' 2>/dev/null || need+=(python3-zmq)
fi
if [ "$mode" = test ] || [ "$mode" = docs ]; then
  have dot || need+=(graphviz)
fi
if [ "$mode" = docs ]; then
  have gnuplot || need+=(gnuplot-nox)
fi

# The single-node cluster (e2e suite, demo, cluster-up): container runtime,
# CNI plugins, the packet filter kube-proxy programs, and the ip tool.
cluster=no
case "$mode" in
  test) [ "$is_linux$is_root" = yesyes ] && cluster=yes ;;
  demo | cluster) [ "$is_linux" = yes ] && cluster=yes ;;
esac
if [ "$cluster" = yes ]; then
  have containerd || need+=(containerd)
  have runc || need+=(runc)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  have iptables || need+=(iptables)
  have conntrack || need+=(conntrack)
  have ip || need+=(iproute2)
  # nft: the cluster's tear-down removes the NetworkPolicy enforcer's
  # table when the enforcer could not.
  have nft || need+=(nftables)
fi

# The Go toolchain: Debian's golang-go is older than go.mod asks for, so it
# is not installed from apt; a Go >= 1.21 fetches the toolchain go.mod names
# from the module proxy by itself (GOTOOLCHAIN=auto).
go_problem=
want_go=$(awk '$1 == "go" { print $2; exit }' go.mod)
if ! have go; then
  go_problem="no Go toolchain in PATH: install Go ${want_go} or newer from https://go.dev/dl (tar -C /usr/local -xzf go${want_go}.linux-amd64.tar.gz)"
else
  # The toolchain actually installed, not the one GOTOOLCHAIN would switch to.
  local_go=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null || true)
  local_go=${local_go#go}
  older() { # older A B: version A < version B
    [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]
  }
  if [ -z "$local_go" ]; then
    go_problem="go env GOVERSION failed: install Go ${want_go} or newer from https://go.dev/dl"
  elif older "$local_go" "$want_go"; then
    if older "$local_go" 1.21 || [ "$(go env GOTOOLCHAIN 2>/dev/null)" = local ]; then
      go_problem="Go ${local_go} is older than go.mod's ${want_go} and cannot fetch a newer toolchain: install Go ${want_go} or newer from https://go.dev/dl, or unset GOTOOLCHAIN=local"
    else
      echo "prereqs: Go ${local_go} < ${want_go}: go will fetch go${want_go} from the module proxy (GOTOOLCHAIN=auto)"
    fi
  fi
fi

fail() {
  echo "prereqs ($mode): $*" >&2
  exit 1
}

if [ ${#need[@]} -gt 0 ]; then
  install_cmd="apt-get update && apt-get install -y --no-install-recommends ${need[*]}"
  if [ "$is_root" = yes ] && [ -f /etc/debian_version ] && have apt-get; then
    echo "prereqs ($mode): installing missing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
  elif [ -f /etc/debian_version ] && have apt-get; then
    fail "missing host packages: ${need[*]}
install them as root, then run this again:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}"
  else
    fail "missing host packages (Debian names): ${need[*]}
this is not a Debian system: install the equivalents with your package manager; on Debian it would be:
  $install_cmd"
  fi
fi

# The NetworkPolicy enforcer of the cluster (kube-network-policies) sends the
# first packet of each new pod connection to an nfqueue through the xtables
# NFQUEUE target in an nftables rule: it needs nfnetlink_queue, nft_compat
# and xt_NFQUEUE (built in or as modules; CONFIG_NFT_QUEUE is not needed).
# Tried for real in a throw-away network namespace.
kernel_problem=
if [ "$cluster" = yes ] && [ "$is_root" = yes ] && have ip && have iptables-nft; then
  modprobe -q nfnetlink_queue 2>/dev/null || true
  ns=zmq-prereqs-$$
  if ip netns add "$ns" 2>/dev/null; then
    if ! ip netns exec "$ns" iptables-nft -w 5 -A FORWARD -j NFQUEUE --queue-num 98 --queue-bypass 2>/dev/null ||
      [ ! -e /proc/net/netfilter/nfnetlink_queue ]; then
      kernel_problem="this kernel cannot queue packets to user space through nftables (the e2e cluster's NetworkPolicy enforcer needs CONFIG_NETFILTER_NETLINK_QUEUE, CONFIG_NFT_COMPAT and CONFIG_NETFILTER_XT_TARGET_NFQUEUE, built in or as modules)"
    fi
    ip netns del "$ns" 2>/dev/null || true
  fi
fi

[ -z "$kernel_problem" ] || fail "$kernel_problem"
[ -z "$go_problem" ] || fail "$go_problem"
echo "prereqs ($mode): ok"
