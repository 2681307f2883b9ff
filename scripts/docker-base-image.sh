#!/usr/bin/env bash
# Builds, once, a local Debian bookworm base image for the Docker tests, and prints its tag on stdout.
#
# There may be no image registry at all (CI, air-gapped machines), but Debian's package mirror is reachable. So the
# base image is made with `debootstrap --variant=minbase` from that mirror and `docker import`ed. The tag carries a
# hash of everything that decides the image's content (suite, variant, package list, this recipe's version), so an
# existing image is reused as is and a changed package list builds a new one. The Dockerfiles take it through
# `--build-arg BASE_IMAGE=<tag>`; users keep the default `debian:bookworm-slim`.
#
# The image trusts the same extra certificate authorities as this machine (/usr/local/share/ca-certificates/*.crt,
# e.g. a TLS-inspecting egress proxy's), so that pip inside `docker build` reaches PyPI where the host does. They are
# part of the tag's hash: a changed set builds a new image.
#
#   scripts/docker-base-image.sh          print the tag, building the image first if it is missing
#   DEBIAN_MIRROR=http://... scripts/docker-base-image.sh   use that mirror (default: apt's configured Debian mirror)
#
# Needs root (debootstrap, chroot) or passwordless sudo, and a working `docker info`. Progress goes to stderr.
set -euo pipefail

SUITE=bookworm
VARIANT=minbase
# What both images need: the daemon's Python (+ venv for pip), Apache with the proxy modules, CA certificates for pip.
INCLUDE="python3,python3-venv,apache2,ca-certificates"
RECIPE=2   # bump when the steps below change the image's content
REPO=fcgi-handlers-base

EXTRA_CA_DIR=/usr/local/share/ca-certificates
extra_cas() { find "$EXTRA_CA_DIR" -maxdepth 2 -type f -name '*.crt' 2>/dev/null | sort; }
key="$( { printf '%s\n' "$SUITE" "$VARIANT" "$INCLUDE" "$RECIPE"; extra_cas | xargs -r cat; } | sha256sum | cut -c1-12)"
TAG="$REPO:$SUITE-$key"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"

say() { echo "docker-base-image: $*" >&2; }

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi

apt_mirror() {
  # The first Debian archive URI in apt's sources (deb822 .sources or one-line .list), not the security archive.
  local uri
  uri="$( { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
            grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
              awk '{print ($2 ~ /^\[/) ? $3 : $2}'; } |
          grep -E '/debian/?$' | head -n1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror)}"

# One build at a time: concurrent test sessions wait here, then find the image built.
lock="${TMPDIR:-/tmp}/fcgi-handlers-base-image.lock"
exec 9>"$lock"
flock -w 1800 9 || { say "another build holds $lock for 30 minutes; giving up"; exit 1; }
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi

for tool in debootstrap tar; do
  command -v "$tool" >/dev/null || { say "$tool is not installed (Debian/Ubuntu: apt-get install $tool)"; exit 1; }
done

work="$(mktemp -d /var/tmp/fcgi-handlers-rootfs.XXXXXX)"
cleanup() {
  # debootstrap mounts /proc and /sys inside the target; never delete through a mount that is still there.
  awk -v dir="$work/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r | while read -r mnt; do
    $SUDO umount -l "$mnt" || true
  done
  $SUDO rm -rf --one-file-system "$work"
}
trap cleanup EXIT

say "building $TAG: debootstrap --variant=$VARIANT --include=$INCLUDE $SUITE from $MIRROR (a few minutes, once)"
log="$work/debootstrap.log"
if ! $SUDO debootstrap --variant="$VARIANT" --include="$INCLUDE" "$SUITE" "$work/rootfs" "$MIRROR" >"$log" 2>&1; then
  say "debootstrap failed; last lines of its log:"
  tail -n 30 "$log" >&2
  exit 1
fi

# Downloaded packages and package lists only make the image bigger; a Dockerfile that needs more runs apt-get update.
$SUDO find "$work/rootfs/var/cache/apt/archives" "$work/rootfs/var/lib/apt/lists" -type f -delete
echo "deb $MIRROR $SUITE main" | $SUDO tee "$work/rootfs/etc/apt/sources.list" >/dev/null
if [ -n "$(extra_cas)" ]; then
  say "adding the host's extra CA certificates: $(extra_cas | xargs -n1 basename | tr '\n' ' ')"
  extra_cas | while read -r crt; do $SUDO cp "$crt" "$work/rootfs/usr/local/share/ca-certificates/"; done
  $SUDO chroot "$work/rootfs" update-ca-certificates >/dev/null
fi

$SUDO tar --numeric-owner --one-file-system -C "$work/rootfs" -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.fcgi-handlers.base-key=$key org.fcgi-handlers.base-include=$INCLUDE" \
    --message "debootstrap --variant=$VARIANT --include=$INCLUDE $SUITE $MIRROR" \
    - "$TAG" >/dev/null
say "built $TAG"
echo "$TAG"
