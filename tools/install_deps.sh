#!/bin/bash
# Install the system packages nova's drivers and tests use (Debian/Ubuntu).
#   zookeeper          the server the zk tests and the demo start on loopback
#   libzookeeper-mt2   the official C client that the zookeeper binding loads
#   libzookeeper-mt-dev  its headers (the Python 2.7 lane builds zkpython)
#   gcc, libc6-dev     the Python 2.7 lane compiles zkpython, SQLAlchemy's C
#                      extension and scandir (tools/py27/build_venv.sh)
#   memcached          the server of the mc driver's tests
#   python3-venv       to make the virtualenv
#   libssl-dev, cmake, make, dpkg-dev  tools/build_zk_tls.sh builds the C
#                      client with OpenSSL from Debian's source package
#   openssl            the TLS tests make their certificates with it
#   strace             the binding's test counts the C client's name look-ups
#   rabbitmq-server    the Nova 34 lane's end-to-end runs real nova-compute and
#                      nova-conductor processes over it (the tests start
#                      their own broker on loopback; the system one is
#                      stopped and disabled after the install)
# The Python 2.7 lane (run_tests.sh --py27) also needs a CPython 2.7 with
# headers and pip, which Debian 12 does not package: see the end.
set -eu

PACKAGES="zookeeper libzookeeper-mt2 libzookeeper-mt-dev gcc libc6-dev memcached python3-venv libssl-dev cmake make dpkg-dev openssl strace rabbitmq-server"

python27_note() {
    local cand
    for cand in "${PYTHON27:-}" "$HOME"/.pyenv/versions/2.7*/bin/python2.7 \
            "${PYENV_ROOT:-/nonexistent}"/versions/2.7*/bin/python2.7 \
            "$(command -v python2.7 2>/dev/null || true)"; do
        [ -n "$cand" ] && [ -x "$cand" ] && return 0
    done
    echo "install_deps: no Python 2.7 found; run_tests.sh --py27 needs one" \
         "(e.g. pyenv install 2.7.18, or PYTHON27=/path/to/python2.7)" >&2
}

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install_deps: system packages present"
    python27_note
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
# The Debian packages may start system-wide servers (ZooKeeper on 2181,
# RabbitMQ on 5672 and 25672); the tests and the demo run their own, so stop
# those if they came up, and keep RabbitMQ from starting at boot.
for service in zookeeper rabbitmq-server; do
    if command -v systemctl >/dev/null && systemctl is-active -q "$service" 2>/dev/null; then
        echo "install_deps: stopping the system $service"
        $SUDO systemctl stop "$service" || true
    elif [ -x "/etc/init.d/$service" ] && "/etc/init.d/$service" status >/dev/null 2>&1; then
        echo "install_deps: stopping the system $service"
        $SUDO "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    fi
done
if command -v systemctl >/dev/null && systemctl is-enabled -q rabbitmq-server 2>/dev/null; then
    $SUDO systemctl disable -q rabbitmq-server 2>/dev/null || true
fi
echo "install_deps: done"
python27_note
