#!/bin/bash
# Install the system packages nova's drivers and tests use (Debian/Ubuntu).
#   zookeeper          the server the zk tests and the demo start on loopback
#   libzookeeper-mt2   the official C client that the zookeeper binding loads
#   libzookeeper-mt-dev  its headers (the Python 2.7 lane builds zkpython)
#   memcached          the server of the mc driver's tests
#   python3-venv       to make the virtualenv
set -eu

PACKAGES="zookeeper libzookeeper-mt2 libzookeeper-mt-dev memcached python3-venv"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install_deps: system packages present"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install_deps: missing$missing and no apt-get; install them by hand" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install_deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The Debian package may start a system-wide server on 2181; the tests and
# the demo run their own, so stop that one if it came up.
if command -v systemctl >/dev/null && systemctl is-active -q zookeeper 2>/dev/null; then
    $SUDO systemctl stop zookeeper || true
fi
echo "install_deps: done"
