#!/bin/bash
# Build a Python 2.7 virtualenv with the ORIGINAL libraries of the Grizzly
# ZooKeeper ServiceGroup driver: zkpython (the C `zookeeper` module, compiled
# here against the system ZooKeeper C client), evzookeeper 0.4.0,
# and Grizzly 2013.1.5's own requirements (tools/py27/requirements-py27.txt),
# with an SQLite hook that Grizzly's migrations need.
#
# Usage: tools/py27/build_venv.sh [VENV_DIR]      (default: <repo>/.venv27)
#
# Idempotent: an existing Python 2.7 virtualenv at VENV_DIR is reused and
# only what is missing is installed. Set ZK_REBUILD=1 to recompile zkpython.
#
# Environment (all optional):
#   PYTHON27     the Python 2.7 interpreter to use (default: pyenv's newest
#                2.7.x, then python2.7 / python2 on PATH)
#   ZK_INCLUDE   directory holding zookeeper.h   (default /usr/include/zookeeper)
#   ZK_LIBDIR    directory holding libzookeeper_mt.so, if not a system one
#   ZK_REBUILD   1: force-reinstall (recompile) zkpython
#
# System packages it needs (Debian 12 names; tools/install_deps.sh installs
# them, this script does not):
#   libzookeeper-mt-dev  ZooKeeper C client headers + libzookeeper_mt.so link
#   libzookeeper-mt2     the ZooKeeper C client runtime library
#   gcc, libc6-dev       (build-essential) to compile zkpython, SQLAlchemy's
#                        C extension and scandir
#   a CPython 2.7 with its headers and pip: pyenv's 2.7.18 here (Debian 12
#                        ships no python2.7)
#   zookeeper, default-jre-headless  only to run a server for
#                        tools/py27/smoke_original.py
#
# Exit status: 0 ok; 3 no Python 2.7; 4 missing ZooKeeper C client / compiler;
# 1 anything else.
set -eu
set -o pipefail

START=$SECONDS
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
REQS="$HERE/requirements-py27.txt"
VENV=${1:-$REPO_ROOT/.venv27}
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
VIRTUALENV_VERSION=20.15.1   # the last virtualenv that runs on Python 2.7
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/nova-zk-py27

log() { echo "build_venv: $*" >&2; }

is_py27() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' >/dev/null 2>&1; }

# ---- 1. find Python 2.7 ----------------------------------------------------
find_python27() {
    local cand root
    if [ -n "${PYTHON27:-}" ]; then
        is_py27 "$PYTHON27" && { echo "$PYTHON27"; return 0; }
        log "PYTHON27=$PYTHON27 is not a working Python 2.7"
        return 1
    fi
    root=""
    if command -v pyenv >/dev/null 2>&1; then
        root=$(pyenv root 2>/dev/null || true)
    fi
    for r in "$root" "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
        [ -n "$r" ] && [ -d "$r/versions" ] || continue
        # newest 2.7.x first
        for cand in $(ls -d "$r"/versions/2.7* 2>/dev/null | sort -V -r); do
            is_py27 "$cand/bin/python2.7" && { echo "$cand/bin/python2.7"; return 0; }
        done
    done
    for cand in python2.7 python2; do
        cand=$(command -v "$cand" 2>/dev/null || true)
        is_py27 "$cand" && { echo "$cand"; return 0; }
    done
    return 1
}

if ! PY=$(find_python27); then
    cat >&2 <<'EOF'
build_venv: no Python 2.7 interpreter found.
  Looked at $PYTHON27, pyenv's versions/2.7.* ($(pyenv root), $PYENV_ROOT,
  ~/.pyenv) and python2.7 / python2 on PATH. Debian 12 ships no Python 2.7;
  install one with pyenv (e.g. `pyenv install 2.7.18`) or point PYTHON27 at one.
EOF
    exit 3
fi
log "Python 2.7: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

# ---- 2. ZooKeeper C client + compiler ---------------------------------------
ZK_INCLUDE=${ZK_INCLUDE:-/usr/include/zookeeper}
missing=""
[ -f "$ZK_INCLUDE/zookeeper.h" ] || missing="$missing $ZK_INCLUDE/zookeeper.h"
if [ -n "${ZK_LIBDIR:-}" ]; then
    ls "$ZK_LIBDIR"/libzookeeper_mt.so >/dev/null 2>&1 || missing="$missing $ZK_LIBDIR/libzookeeper_mt.so"
else
    found=""
    for f in /usr/lib/*/libzookeeper_mt.so /usr/lib/libzookeeper_mt.so \
            /usr/local/lib/libzookeeper_mt.so; do
        [ -e "$f" ] && found=$f
    done
    [ -n "$found" ] || missing="$missing libzookeeper_mt.so"
fi
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
"$PY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing="$missing Python.h(of $PY)"
if [ -n "$missing" ]; then
    log "missing:$missing"
    log "install the Debian packages libzookeeper-mt-dev libzookeeper-mt2 gcc libc6-dev (tools/install_deps.sh)"
    exit 4
fi
ZOO_VERSION=$(sed -n 's/^#define ZOO_VERSION "\([0-9.]*\)".*/\1/p' "$ZK_INCLUDE/zookeeper_version.h" 2>/dev/null || true)
if [ -z "$ZOO_VERSION" ]; then
    # ZooKeeper < 3.5 headers define the three macros themselves
    ZOO_MAJOR=$(sed -n 's/^#define ZOO_MAJOR_VERSION \([0-9]*\).*/\1/p' "$ZK_INCLUDE/zookeeper_version.h" 2>/dev/null || true)
    ZOO_VERSION_DEFS=""
    [ -n "$ZOO_MAJOR" ] || { log "cannot read the ZooKeeper version from $ZK_INCLUDE/zookeeper_version.h"; exit 4; }
    ZOO_VERSION="$ZOO_MAJOR.x"
else
    IFS=. read -r ZMAJ ZMIN ZPAT <<<"$ZOO_VERSION"
    # 3.5+ defines only ZOO_VERSION; zkpython's zookeeper.c wants the three
    ZOO_VERSION_DEFS="-DZOO_MAJOR_VERSION=$ZMAJ -DZOO_MINOR_VERSION=$ZMIN -DZOO_PATCH_VERSION=${ZPAT:-0}"
fi
log "ZooKeeper C client $ZOO_VERSION, headers in $ZK_INCLUDE"

# ---- 3. virtualenv -------------------------------------------------------------
venv_ok() { is_py27 "$VENV/bin/python" && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }
# A virtualenv built from other pins is rebuilt, not patched over: pip
# would leave the packages no longer pinned behind.
STAMP="$VENV/.requirements.sha1"
WANT=$(cat "$REQS" "$HERE/sqlite_legacy_alter_table.py" | sha1sum | cut -d' ' -f1)
if [ -d "$VENV" ] && venv_ok && [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    log "the pins changed since $VENV was built: rebuilding it"
    rm -rf "$VENV"
fi

if venv_ok; then
    log "reusing the virtualenv $VENV"
else
    if [ -e "$VENV" ]; then
        if [ -f "$VENV/pyvenv.cfg" ] || [ -f "$VENV/bin/activate" ]; then
            log "removing the broken or non-2.7 virtualenv $VENV"
            rm -rf "$VENV"
        else
            log "$VENV exists and is not a virtualenv; refusing to touch it"
            exit 1
        fi
    fi
    # virtualenv itself: the interpreter's own if it is one that runs on 2.7,
    # else a private copy of $VIRTUALENV_VERSION under $CACHE (the
    # interpreter's site-packages are left alone).
    VENV_CMD=""
    if v=$("$PY" -m virtualenv --version 2>/dev/null) && \
            "$PY" - "$v" <<'EOF'
import re, sys
m = re.search(r'(\d+)\.(\d+)', sys.argv[1])
sys.exit(not (m and (int(m.group(1)), int(m.group(2))) < (20, 22)))
EOF
    then
        VENV_CMD="$PY -m virtualenv"
    else
        BOOT="$CACHE/virtualenv-$VIRTUALENV_VERSION"
        if ! PYTHONPATH="$BOOT" "$PY" -m virtualenv --version >/dev/null 2>&1; then
            "$PY" -m pip --version >/dev/null 2>&1 || {
                log "$PY has no pip to fetch virtualenv with (try: $PY -m ensurepip)"; exit 1; }
            log "installing virtualenv==$VIRTUALENV_VERSION into $BOOT"
            rm -rf "$BOOT"
            "$PY" -m pip install --disable-pip-version-check --no-warn-script-location \
                --quiet --target "$BOOT" "virtualenv==$VIRTUALENV_VERSION"
        fi
        VENV_CMD="env PYTHONPATH=$BOOT $PY -m virtualenv"
    fi
    log "creating $VENV"
    $VENV_CMD --no-periodic-update --no-download --app-data "$CACHE/virtualenv-app-data" \
        --quiet "$VENV"
    venv_ok || { log "virtualenv creation failed"; exit 1; }
fi

# ---- 4. packages -------------------------------------------------------------
# CFLAGS for zkpython: THREADED selects the multi-threaded C API
# (libzookeeper_mt), the version macros replace the ones ZooKeeper 3.5+ dropped.
# They are harmless for the other C builds (SQLAlchemy, scandir).
export CFLAGS="${CFLAGS:+$CFLAGS }-DTHREADED $ZOO_VERSION_DEFS -I$ZK_INCLUDE"
if [ -n "${ZK_LIBDIR:-}" ]; then
    export LDFLAGS="${LDFLAGS:+$LDFLAGS }-L$ZK_LIBDIR -Wl,-rpath,$ZK_LIBDIR"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
VPIP="$VENV/bin/python -m pip"

if [ "${ZK_REBUILD:-0}" = 1 ]; then
    log "ZK_REBUILD=1: removing zkpython to recompile it"
    $VPIP uninstall --yes zkpython >/dev/null 2>&1 || true
fi
log "installing the pinned packages ($REQS)"
# --no-binary zkpython: always compile it here (setup.py install), never reuse
# a wheel from pip's cache that may have been built with other flags.
# (the grep drops pip 20.3's end-of-life banner and this machine's notes on
# absent local index directories)
set +e
$VPIP install --no-binary zkpython -r "$REQS" 2>&1 \
    | grep -v -e "^WARNING: Url 'file://" -e "^DEPRECATION: Python 2.7 reached" >&2
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
    log "pip install failed (exit $rc)"
    exit 1
fi
if ! "$VENV/bin/python" -c 'import zookeeper, evzookeeper, evzookeeper.membership' 2>/dev/null; then
    log "zookeeper/evzookeeper do not import after the install; retrying zkpython verbosely"
    $VPIP install --force-reinstall --no-deps --no-binary zkpython -v \
        "$(grep -i '^zkpython==' "$REQS")" >&2
fi
if ! out=$($VPIP check 2>&1); then
    echo "$out" >&2
    log "pip check failed"
    exit 1
fi

# Grizzly's migrations need SQLite's legacy ALTER TABLE (SQLite >= 3.26).
SITE=$("$VENV/bin/python" -c 'import distutils.sysconfig as s; print(s.get_python_lib())')
cp "$HERE/sqlite_legacy_alter_table.py" "$SITE/"
echo "import sqlite_legacy_alter_table" > "$SITE/sqlite_legacy_alter_table.pth"
"$VENV/bin/python" -c '
import sqlite3
c = sqlite3.connect(":memory:")
assert c.execute("PRAGMA legacy_alter_table").fetchone()[0] == 1
' || { log "the SQLite legacy_alter_table hook does not work"; exit 1; }

echo "$WANT" > "$STAMP"

# ---- 5. report -------------------------------------------------------------
"$VENV/bin/python" - <<'EOF'
from __future__ import print_function
import warnings
warnings.simplefilter('ignore', DeprecationWarning)
import pkg_resources
import zookeeper
import evzookeeper
from evzookeeper import membership
import eventlet
from oslo.config import cfg
import oslo.config
import sqlalchemy


def dist(name):
    return pkg_resources.get_distribution(name).version

rows = [
    ('zookeeper (zkpython %s, C client %s)' % (dist('zkpython'),
                                               zookeeper.__version__),
     zookeeper.__file__),
    ('evzookeeper %s' % dist('evzookeeper'), evzookeeper.__file__),
    ('eventlet %s (greenlet %s)' % (eventlet.__version__, dist('greenlet')),
     eventlet.__file__),
    ('oslo.config %s' % dist('oslo.config'), cfg.__file__),
    ('SQLAlchemy %s' % sqlalchemy.__version__, sqlalchemy.__file__),
]
for what, path in rows:
    print('%-48s %s' % (what, path))
EOF
ldd "$(find "$VENV/lib/python2.7/site-packages" -maxdepth 1 -name 'zookeeper*.so' | head -1)" \
    | grep zookeeper_mt | sed 's/^[[:space:]]*/zookeeper.so links /'
log "done: $VENV in $((SECONDS - START)) s"
