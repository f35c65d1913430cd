#!/usr/bin/env bash
# Renders config/default with the manager and sidecar images retargeted, the
# way `kustomize edit set image` would, into one manifest:
#   hack/build-installer.sh OUT MANAGER_IMAGE SIDECAR_IMAGE
# An image is name[:tag] or name@sha256:digest. KUBECTL names the kubectl
# whose built-in kustomize renders it (default: kubectl).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 OUT MANAGER_IMAGE SIDECAR_IMAGE" >&2; exit 2; }
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)

# entry NAME IMAGE prints a kustomize images: entry retargeting NAME.
entry() {
	local name=$1 ref=$2 repo tag=
	echo "- name: $name"
	case $ref in
	*@*) echo "  newName: ${ref%@*}"; echo "  digest: ${ref#*@}"; return ;;
	esac
	repo=$ref
	# A colon after the last slash starts the tag (a registry's :port does not).
	if [[ ${ref##*/} == *:* ]]; then repo=${ref%:*}; tag=${ref##*:}; fi
	echo "  newName: $repo"
	[ -z "$tag" ] || echo "  newTag: \"$tag\""
}

# The overlay lives next to config/default: kustomize loads bases by
# relative path only.
tmp=$(mktemp -d "$root/config/.installer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
{
	echo "resources: [../default]"
	echo "images:"
	entry zmq-operator "$2"
	entry zmq-sidecar "$3"
} >"$tmp/kustomization.yaml"
mkdir -p "$(dirname "$out")"
"${KUBECTL:-kubectl}" kustomize "$tmp" >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out: manager $2, sidecar $3"
