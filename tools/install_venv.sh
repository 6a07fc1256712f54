#!/bin/bash
# Create (or refresh) the virtualenv .venv with nova, its ports of the
# ZooKeeper libraries and the test requirements.
#   tools/install_venv.sh [-f]     -f: throw the old one away first
# PYTHON picks the interpreter (default python3). BENCHMARKS=0 leaves out
# benchmarks/requirements.txt (tools/test_pythons.sh: its venvs run no benchmark).
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
BENCHMARKS=${BENCHMARKS:-1}
bench_reqs=()
[ "$BENCHMARKS" = 0 ] || bench_reqs=(-r benchmarks/requirements.txt)

if [ "${1:-}" = "-f" ]; then
    rm -rf "$VENV"
fi
stamp="$VENV/.installed"
# (the default's stamp is what it was before BENCHMARKS existed: no rebuild)
want=$( ([ "$BENCHMARKS" = 0 ] && echo "benchmarks=0"
         cat requirements.txt test-requirements.txt benchmarks/requirements.txt \
             setup.py ports/*/setup.py zkgroup/setup.py \
             ports/zookeeper/zookeeper/_cdef.py) 2>/dev/null | sha1sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "install_venv: creating $VENV with $($PYTHON --version 2>&1)"
    $PYTHON -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -r requirements.txt -r test-requirements.txt \
    "${bench_reqs[@]}"
"$VENV/bin/pip" install -q -e ports/zookeeper -e ports/evzookeeper -e ./zkgroup -e .
# An editable install does not run the binding's cffi_modules: write its
# parsed declarations in place (import time: a third).
"$VENV/bin/python" ports/zookeeper/zookeeper/_cdef.py >/dev/null
echo "$want" > "$stamp"
echo "install_venv: $VENV ready"
