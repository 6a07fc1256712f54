#!/bin/bash
# Run the binding's, the evzookeeper port's, zkgroup's and the driver's unit
# tests (and the install check) on the other Pythons the README claims, each
# in its own cached virtualenv (.venv39, .venv313, built by
# tools/install_venv.sh).
#   tools/test_pythons.sh [-s] [X.Y ...]    default: 3.9 3.13
# The venvs are built one after the other, then the Pythons' test runs go
# at once (they mostly wait on ZooKeeper, so this halves the wall time;
# each test starts its own servers on free ports); each run's output is
# printed whole when all are done. -s runs them one after the other, live.
# PYTHON39=/path/to/python3.9 (PYTHON313=..., PYTHON<X><Y>) picks an
# interpreter; otherwise pyenv's newest X.Y.*, then pythonX.Y on PATH.
# A Python that cannot be found fails its run: the README claims it, so it
# is never skipped in silence.
# Prints run_tests.sh's "N passed, N failed, N skipped" once per Python (a
# Python that could not run gets "0 passed, 1 failed, 0 skipped"), so that
# .ci/run's closing summary counts every run; the last lines repeat them with
# the version in front. Exits non-zero when any run failed.
set -u
cd "$(dirname "$0")/.."

# The full suite runs on the default Python (run_tests.sh); here the layers
# that differ between Pythons: the cffi binding, the eventlet glue, the
# driver, zkgroup under both concurrency models, and the documented install
# commands (3.12+ venvs come without setuptools).
TESTS=(ports/zookeeper/tests ports/evzookeeper/tests nova/tests/servicegroup
       zkgroup/tests/core nova/tests/test_install.py)
serial=0
if [ "${1:-}" = "-s" ] || [ "${1:-}" = "--serial" ]; then
    serial=1
    shift
fi
[ $# -eq 0 ] && set -- 3.9 3.13

log() { echo "test_pythons: $*" >&2; }

is_version() {  # is_version INTERPRETER X.Y: does it run and is it X.Y?
    [ -n "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
                         2>/dev/null)" = "$2" ]
}

find_python() {
    local want=$1 var cand r root=""
    var=PYTHON${want//./}
    if [ -n "${!var:-}" ]; then
        is_version "${!var}" "$want" && { echo "${!var}"; return 0; }
        log "$var=${!var} is not a working Python $want"
        return 1
    fi
    command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null || true)
    for r in "$root" "${PYENV_ROOT:-}" "$HOME/.pyenv"; do
        [ -n "$r" ] && [ -d "$r/versions" ] || continue
        # newest X.Y.z first; a pyenv shim on PATH is no proof the version exists
        for cand in $(ls -d "$r/versions/$want".* 2>/dev/null | sort -V -r); do
            is_version "$cand/bin/python$want" "$want" \
                && { echo "$cand/bin/python$want"; return 0; }
        done
    done
    cand=$(command -v "python$want" 2>/dev/null || true)
    is_version "$cand" "$want" && { echo "$cand"; return 0; }
    return 1
}

# the installation a venv stands on, and its exact version
base_of='import sys; print(sys.base_prefix, sys.version)'
work=$(mktemp -d /tmp/nova-pythons.XXXXXX)
trap 'rm -rf "$work"' EXIT

prepare() {  # prepare X.Y: find it and build its venv; 0 when ready
    local want=$1 py venv
    if ! py=$(find_python "$want"); then
        log "no Python $want found: looked at \$PYTHON${want//./}, pyenv's" \
            "versions/$want.* and python$want on PATH; install it" \
            "(e.g. pyenv install $want) or set PYTHON${want//./}"
        return 1
    fi
    venv=.venv${want//./}
    # A venv of another interpreter (moved, removed, or another patch
    # release) is rebuilt: install_venv.sh only checks the requirements.
    if [ -e "$venv" ] && [ "$("$venv/bin/python" -c "$base_of" 2>/dev/null)" \
            != "$("$py" -c "$base_of")" ]; then
        log "$venv is not a venv of $py: rebuilding it"
        rm -rf "$venv"
    fi
    # one at a time: pip builds the ports in the shared tree (egg-info)
    VENV=$venv PYTHON=$py BENCHMARKS=0 tools/install_venv.sh || {
        log "could not build $venv with $py"; return 1; }
    echo "$py" > "$work/$want.python"
}

run() {  # run X.Y: its tests in its venv (ready: run_tests.sh only checks it)
    local want=$1
    echo "== Python $want ($(cat "$work/$want.python"))"
    VENV=.venv${want//./} PYTHON=$(cat "$work/$want.python") BENCHMARKS=0 \
        ./run_tests.sh "${TESTS[@]}" 2>&1
}

for want in "$@"; do
    prepare "$want" || echo 1 > "$work/$want.rc"
done
for want in "$@"; do
    [ -e "$work/$want.rc" ] && continue
    if [ $serial -eq 1 ]; then
        run "$want" | tee "$work/$want.out"
        echo "${PIPESTATUS[0]}" > "$work/$want.rc"
    else
        ( run "$want" > "$work/$want.out"; echo $? > "$work/$want.rc" ) &
    fi
done
wait

summary=()
rc=0
for want in "$@"; do
    [ $serial -eq 1 ] || { [ -e "$work/$want.out" ] && cat "$work/$want.out"; }
    run_rc=$(cat "$work/$want.rc" 2>/dev/null || echo 1)
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/$want.out" 2>/dev/null | tail -n 1)
    if [ -z "$line" ]; then
        # no count: the interpreter, its venv or the runner is missing; one
        # failed run, so that .ci/run counts it
        line="0 passed, 1 failed, 0 skipped"
        echo "$line"
        [ "$run_rc" -eq 0 ] && run_rc=1
    fi
    [ "$run_rc" -eq 0 ] || rc=1
    summary+=("python$want: $line")
done
printf '%s\n' "${summary[@]}"
exit $rc
