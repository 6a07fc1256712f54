#!/bin/bash
# Build or refresh the virtualenv of the Nova 34 lane: the REAL Nova 34.0.0
# (2026.2) from PyPI on Python 3.11, with its test requirements, Placement
# and this project's three distributions.
#
# Usage: tools/nova34/build_venv.sh [--deps-only] [VENV_DIR]
#        (default: <repo>/.venv-nova34)
#   --deps-only   only the pinned part, not ours: what .ci/run builds in the
#                 background while the machine is being set up (ours are
#                 built in this checkout's tree, which the main venv's
#                 install must have to itself)
#
# What it installs:
#   nova==34.0.0, openstack-placement==16.0.0 (2026.2), python-memcached;
#   the test requirements of Nova 34.0.0, read from its sdist's
#     test-requirements.txt (downloaded once into the cache below; the
#     linters hacking and bandit are left out: the lane runs no style check);
#   wheel (to build ours in the virtualenv);
#   all of them under tools/nova34/constraints.txt (the versions the lane was
#     last proved with), so a later release on PyPI does not change the lane;
#   ./ports/zookeeper ./ports/evzookeeper ./zkgroup of this checkout, on
#     every run (reinstalled without their dependencies: seconds), so that the
#     lane always tests the working tree.
# The pinned part is skipped when the stamp file <venv>/.nova34-stamp matches
# this script, the constraints and the test requirements; NOVA34_REBUILD=1
# removes the virtualenv first.
#
# Environment (all optional):
#   PYTHON311     the interpreter (default: python3.11 on PATH)
#   NOVA34_CACHE  where the sdist is kept (default ~/.cache/nova-zk-nova34)
#   PIP_QUIET     1: quieter pip
#
# Exit status: 0 ok; 3 no Python 3.11; 1 anything else.  It prints what it
# did on stderr and, last, the versions in the virtualenv on stdout.
set -eu
set -o pipefail

START=$SECONDS
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DEPS_ONLY=0
if [ "${1:-}" = "--deps-only" ]; then
    DEPS_ONLY=1
    shift
fi
VENV=${1:-$REPO/.venv-nova34}
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
NOVA_VERSION=34.0.0
PLACEMENT_VERSION=16.0.0
CONSTRAINTS="$HERE/constraints.txt"
CACHE=${NOVA34_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nova-zk-nova34}
PY=${PYTHON311:-python3.11}
# Left out of Nova's test-requirements.txt: style checkers only.
SKIP_TEST_REQS='^(hacking|bandit)\b'

log() { echo "build_venv: $*" >&2; }

export PIP_DISABLE_PIP_VERSION_CHECK=1
is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; }
if ! is_py311 "$PY"; then
    log "no Python 3.11 ($PY); Nova 34 needs Python >= 3.11: install python3.11 or set PYTHON311"
    exit 3
fi

# ---- 1. Nova's test requirements, from its sdist ---------------------------
SDIST="$CACHE/nova-$NOVA_VERSION.tar.gz"
TESTREQS="$CACHE/nova-$NOVA_VERSION-test-requirements.txt"
if [ ! -s "$TESTREQS" ]; then
    mkdir -p "$CACHE"
    if [ ! -s "$SDIST" ]; then
        log "downloading the nova $NOVA_VERSION sdist for its test-requirements.txt"
        "$PY" -m pip download --quiet --no-binary :all: --no-deps --dest "$CACHE" \
            "nova==$NOVA_VERSION" >&2
    fi
    tar -xzOf "$SDIST" "nova-$NOVA_VERSION/test-requirements.txt" > "$TESTREQS.tmp"
    mv "$TESTREQS.tmp" "$TESTREQS"
fi
REQS="$CACHE/lane-requirements.txt"
{
    echo "nova==$NOVA_VERSION"
    echo "openstack-placement==$PLACEMENT_VERSION"
    echo "python-memcached"
    echo "wheel"     # ours are built in the virtualenv, without isolation
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$TESTREQS" | grep -v -E -e "$SKIP_TEST_REQS" -e '^$'
} > "$REQS"

# ---- 2. the virtualenv -------------------------------------------------------
STAMP="$VENV/.nova34-stamp"
WANT=$( (cat "$0" "$REQS"; [ -f "$CONSTRAINTS" ] && cat "$CONSTRAINTS" || true) | sha1sum | cut -d' ' -f1)
VPY="$VENV/bin/python"
if [ "${NOVA34_REBUILD:-0}" = 1 ] && [ -d "$VENV" ]; then
    log "NOVA34_REBUILD=1: removing $VENV"
    rm -rf "$VENV"
fi
if [ -e "$VENV" ] && ! is_py311 "$VPY"; then
    if [ -f "$VENV/pyvenv.cfg" ]; then
        log "removing the broken or non-3.11 virtualenv $VENV"
        rm -rf "$VENV"
    else
        log "$VENV exists and is not a virtualenv; refusing to touch it"
        exit 1
    fi
fi
if [ -d "$VENV" ] && [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    # pip would leave packages that are no longer pinned behind
    log "the pins changed since $VENV was built (or it was never finished): rebuilding it"
    rm -rf "$VENV"
fi

OURS=("$REPO/ports/zookeeper" "$REPO/ports/evzookeeper")
if [ -f "$REPO/zkgroup/setup.py" ]; then
    OURS+=("$REPO/zkgroup")
else
    log "no $REPO/zkgroup/setup.py yet: installing the two ports only"
fi
VPIP=("$VPY" -m pip)
quiet=()
[ "${PIP_QUIET:-0}" = 1 ] && quiet=(--quiet)
constrain=()
[ -f "$CONSTRAINTS" ] && constrain=(-c "$CONSTRAINTS")

if [ -d "$VENV" ]; then
    log "reusing $VENV (nova $NOVA_VERSION, placement $PLACEMENT_VERSION: stamp matches)"
else
    log "creating $VENV with $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    "$PY" -m venv "$VENV"
    log "installing nova==$NOVA_VERSION, openstack-placement==$PLACEMENT_VERSION, python-memcached," \
        "Nova's test requirements${constrain:+ (under tools/nova34/constraints.txt)} and ours"
    t0=$SECONDS
    if [ $DEPS_ONLY = 1 ]; then
        "${VPIP[@]}" install "${quiet[@]}" "${constrain[@]}" -r "$REQS" >&2
    else
        "${VPIP[@]}" install "${quiet[@]}" "${constrain[@]}" -r "$REQS" "${OURS[@]}" >&2
    fi
    log "pip install took $((SECONDS - t0)) s"
    echo "$WANT" > "$STAMP"
fi
if [ $DEPS_ONLY = 1 ]; then
    log "done (--deps-only): $VENV in $((SECONDS - START)) s"
    exit 0
fi

# ---- 3. ours, every run ----------------------------------------------------
t0=$SECONDS
# (without build isolation: pip would otherwise fetch setuptools into a
# fresh build environment for each of the three, 4 times slower)
"${VPIP[@]}" install --quiet --no-deps --force-reinstall --no-build-isolation \
    "${OURS[@]}" >&2
if ! out=$("${VPIP[@]}" check 2>&1); then
    # one of ours gained a dependency since the build
    log "pip check: $out"
    log "installing what ours need now"
    "${VPIP[@]}" install "${quiet[@]}" "${constrain[@]}" "${OURS[@]}" >&2
    out=$("${VPIP[@]}" check 2>&1) || { echo "$out" >&2; log "pip check failed"; exit 1; }
fi
log "reinstalled ${OURS[*]#$REPO/} in $((SECONDS - t0)) s"

# ---- 4. report ---------------------------------------------------------------
"$VPY" - <<'PY'
import importlib.metadata as md
for name in ('nova', 'openstack-placement', 'oslo.messaging', 'oslo.db',
             'eventlet', 'stestr', 'python-memcached', 'zookeeper-cffi',
             'evzookeeper-py3', 'zkgroup'):
    try:
        print('  %-22s %s' % (name, md.version(name)))
    except md.PackageNotFoundError:
        print('  %-22s (not installed)' % name)
PY
log "done: $VENV in $((SECONDS - START)) s"
