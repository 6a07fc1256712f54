#!/bin/bash
# The Nova 34 lane: the zk driver patched into the REAL Nova 34.0.0 (2026.2)
# from PyPI, tested with Nova's own runner in both of its concurrency modes.
#
#   tools/nova34/run_lane.sh                      (run_tests.sh --nova34)
#
# 1. builds or refreshes the virtualenv (tools/nova34/build_venv.sh;
#    VENV_NOVA34 overrides its place, default <repo>/.venv-nova34): Nova
#    34.0.0 and its test requirements from PyPI, ours reinstalled each run;
# 2. reverts an earlier patch of that Nova and runs the tests of
#    tools/patch_nova.py (tools/nova34/test_patch_nova.py) on copies of its
#    real files;
# 3. patches the virtualenv's Nova with tools/patch_nova.py, as
#    doc/nova34.md tells operators to;
# 4. starts ZooKeeper (Debian's, tickTime 2000 ms) on a free loopback port
#    and exports its address as ZK_ADDRESS;
# 5. then, in threading mode (OS_NOVA_DISABLE_EVENTLET_PATCHING=1) and in
#    eventlet mode (unset), runs with `python -m stestr`:
#      - Nova's own nova.tests.unit.servicegroup, with the copied test_zk.py;
#      - our functional tests in Nova's framework, zkgroup/tests/nova_functional
#        (when that folder exists);
#    and the operator's end-to-end tools/nova34/e2e.py --mode MODE (when it
#    exists) and the state command's checks (tools/nova34/check_service_list.py).
# Each step prints "STEP: N passed, N failed, N skipped"; the last line is
# "N passed, N failed, N skipped" over all of them.  A skip counts: the lane
# fails on any failure, any skip, or a step that printed no count.
#
# Exit status: 0 all passed; 3 no Python 3.11; 1 anything else.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${VENV_NOVA34:-$REPO/.venv-nova34}
START=$SECONDS
MODES=(threading eventlet)
STEP_TIMEOUT=${NOVA34_STEP_TIMEOUT:-300}   # seconds for one step of one mode

say() { echo "nova34 lane [$((SECONDS - START)) s]: $*" >&2; }

# Nothing of the caller's Python setup may leak in (run_tests.sh -N puts
# this checkout on PYTHONPATH, whose nova/ is Grizzly-shaped).
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE OS_NOVA_DISABLE_EVENTLET_PATCHING
export PYTHONNOUSERSITE=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nova34-lane.XXXXXX") || exit 1
COUNTS="$WORK/counts.txt"
: > "$COUNTS"
ZKDIR="$WORK/zk"
PY=""
cleanup() {
    [ -n "$PY" ] && [ -f "$ZKDIR/server.pid" ] && \
        "$PY" "$REPO/nova/tests/zkserver.py" stop --dir "$ZKDIR" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
# Not this checkout: its Grizzly-shaped nova/ would shadow Nova 34 for any
# `python -c` or `python -m` started here.
cd "$WORK" || exit 1

# A step's count line, kept for the total; a step without one failed.
record() {   # record STEP FILE
    local line
    line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?\$" "$2" | tail -n 1)
    [ -n "$line" ] || { line="$1: 0 passed, 1 failed, 0 skipped"; echo "$line"; }
    echo "$line" >> "$COUNTS"
}

total() {
    say "done in $((SECONDS - START)) s (virtualenv refresh included)"
    python3 - "$COUNTS" <<'EOF'
import re, sys
totals = [0, 0, 0]
for line in open(sys.argv[1]):
    m = re.match(r'^[\w-]+: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?$',
                 line.strip())
    if m:
        totals = [a + int(b or 0) for a, b in zip(totals, m.groups())]
print('%d passed, %d failed, %d skipped' % tuple(totals))
sys.exit(1 if totals[1] or totals[2] or not totals[0] else 0)
EOF
}

# stestr over one folder of tests: run_stestr STEP TEST_PATH TOP_DIR MODULE...
# (a MODULE that ran no test is a failure).
run_stestr() {
    local step=$1 test_path=$2 top_dir=$3 dir="$WORK/stestr-$1" rc
    shift 3
    mkdir -p "$dir"
    printf '[DEFAULT]\ntest_path=%s\ntop_dir=%s\n' "$test_path" "$top_dir" > "$dir/.stestr.conf"
    # The results are streamed (--subunit), so that a run stopped half-way
    # still counts what finished; a hang is a failure, not a stuck CI
    # (timeout ends the whole process group).
    (cd "$dir" && timeout --kill-after=10 "$STEP_TIMEOUT" \
        "$PY" -m stestr run --subunit --concurrency "${NOVA34_CONCURRENCY:-1}" \
        > "$dir/run.subunit" 2> "$dir/run.log")
    rc=$?
    [ $rc = 124 ] || [ $rc = 137 ] && say "$step: stopped after $STEP_TIMEOUT s (NOVA34_STEP_TIMEOUT): a test hangs; the tests not reported count as not run"
    "$VENV/bin/subunit-2to1" < "$dir/run.subunit" > "$dir/v1.subunit"
    "$PY" "$REPO/tools/py27/subunit_report.py" "$dir/v1.subunit" "$rc" "$@" \
        | sed "s/^units: /$step: /" > "$dir/report.txt"
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        sed '$d' "$dir/report.txt"      # its total follows, corrected below
    else
        cat "$dir/report.txt"
    fi
    if [ "$rc" != 0 ]; then
        "$PY" "$HERE/unfinished.py" "$dir/run.subunit"
        tail -n 20 "$dir/run.log" >&2
    fi
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        # the tests that never ran (the hung one and those after it) fail
        local listed
        listed=$(cd "$dir" && timeout 120 "$PY" -m stestr list 2>/dev/null | grep -c '^[A-Za-z_]')
        python3 -c '
import re, sys
step, listed = sys.argv[1], int(sys.argv[2])
m = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", open(sys.argv[3]).read().splitlines()[-1])
p, f, s = (int(g) for g in m.groups())
print("%s: %d passed, %d failed, %d skipped"
      % (step, p, max(f, listed - p - s), s))
' "$step" "${listed:-0}" "$dir/report.txt" > "$dir/report-timeout.txt"
        echo "$step: $listed tests listed; those that did not finish count as failed" >&2
        cat "$dir/report-timeout.txt"
        record "$step" "$dir/report-timeout.txt"
        return
    fi
    record "$step" "$dir/report.txt"
}

# The whole run is one function, read before it starts: editing this file
# (a git pull) while a lane runs cannot change what that run does.
main() {
# ---- 1. the virtualenv ----------------------------------------------------
PIP_QUIET=${PIP_QUIET:-1} "$HERE/build_venv.sh" "$VENV" >&2
rc=$?
if [ $rc -ne 0 ]; then
    say "building the virtualenv $VENV failed (build_venv.sh exit $rc)"
    echo "venv: 0 passed, 1 failed" >> "$COUNTS"
    total
    exit $rc
fi
PY="$VENV/bin/python"
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# ---- 2. the patch tool, on copies of the real files --------------------------
"$PY" "$REPO/tools/patch_nova.py" --python "$PY" --revert | grep -E '^(revert|remove) ' >&2
say "tests of tools/patch_nova.py"
"$PY" -m subunit.run discover -s "$HERE" -p 'test_*.py' -t "$HERE" \
    2> "$WORK/patch-tool.log" | "$VENV/bin/subunit-2to1" > "$WORK/patch-tool.subunit"
"$PY" "$REPO/tools/py27/subunit_report.py" "$WORK/patch-tool.subunit" 0 test_patch_nova \
    | sed 's/^units: /patch-tool: /' | tee "$WORK/patch-tool.txt"
record patch-tool "$WORK/patch-tool.txt"

# ---- 3. patch the virtualenv's Nova ---------------------------------------
if "$PY" "$REPO/tools/patch_nova.py" --python "$PY" > "$WORK/patch.log" 2>&1; then
    grep -E '^(patch_nova|patch|add|replace|keep) ' "$WORK/patch.log" >&2
    patched=1
else
    cat "$WORK/patch.log" >&2
    say "tools/patch_nova.py --python $PY failed"
    echo "patch: 0 passed, 1 failed" | tee -a "$COUNTS"
    patched=0
fi

# which Nova and which of ours the tests import (the virtualenv's, patched)
if [ $patched = 1 ] && ! "$PY" "$HERE/check_imports.py" "$SITE" >&2; then
    say "the virtualenv does not import the patched Nova and ours from $SITE"
    echo "imports: 0 passed, 1 failed" | tee -a "$COUNTS"
fi

# ---- 4. ZooKeeper ----------------------------------------------------------
command -v java >/dev/null || say "java not found; run tools/install_deps.sh"
ZK_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if "$PY" "$REPO/nova/tests/zkserver.py" start --port "$ZK_PORT" --tick-time 2000 \
        --dir "$ZKDIR" >&2; then
    export ZK_ADDRESS="127.0.0.1:$ZK_PORT"
    say "ZooKeeper on $ZK_ADDRESS (ZK_ADDRESS)"
else
    say "cannot start ZooKeeper on 127.0.0.1:$ZK_PORT"
    echo "zookeeper: 0 passed, 1 failed" | tee -a "$COUNTS"
fi

# ---- 5. both concurrency modes --------------------------------------------------
FUNCTIONAL="$REPO/zkgroup/tests/nova_functional"
for mode in "${MODES[@]}"; do
    if [ "$mode" = threading ]; then
        export OS_NOVA_DISABLE_EVENTLET_PATCHING=1
    else
        unset OS_NOVA_DISABLE_EVENTLET_PATCHING
    fi
    say "$mode mode: Nova's nova.tests.unit.servicegroup"
    expect=(test_api test_db_servicegroup test_mc_servicegroup)
    [ $patched = 1 ] && expect+=(test_zk)
    run_stestr "units-$mode" "$SITE/nova/tests/unit/servicegroup" "$SITE" "${expect[@]}"

    if [ -d "$FUNCTIONAL" ]; then
        say "$mode mode: our functional tests ($FUNCTIONAL)"
        # top_dir: the folder itself (its modules import as top-level
        # names); a folder further up would be zkgroup/, whose zkgroup/
        # package would shadow the installed one
        run_stestr "functional-$mode" "$FUNCTIONAL" "$FUNCTIONAL"
    else
        say "$mode mode: no $FUNCTIONAL yet: no functional tests"
    fi

    if [ -f "$HERE/e2e.py" ]; then
        say "$mode mode: end-to-end (tools/nova34/e2e.py --mode $mode)"
        timeout --kill-after=10 "$STEP_TIMEOUT" \
            "$PY" "$HERE/e2e.py" --mode "$mode" > "$WORK/e2e-$mode.txt" 2>&1
        e2e_rc=$?
        # each check with the seconds it measured
        grep -E '\] (PASS|FAIL) |\] detection:' "$WORK/e2e-$mode.txt" >&2
        sed -n 's/^e2e: /e2e-'"$mode"': /p' "$WORK/e2e-$mode.txt" > "$WORK/e2e-$mode.count"
        if [ $e2e_rc -ne 0 ]; then
            tail -n 30 "$WORK/e2e-$mode.txt" >&2
            # a failing run that counted no failure still failed
            grep -q ', [1-9][0-9]* failed' "$WORK/e2e-$mode.count" || \
                echo "e2e-$mode: 0 passed, 1 failed" > "$WORK/e2e-$mode.count"
        fi
        cat "$WORK/e2e-$mode.count"
        record "e2e-$mode" "$WORK/e2e-$mode.count"
    else
        say "$mode mode: no $HERE/e2e.py yet: no end-to-end"
    fi

    say "$mode mode: the state command (tools/nova34/check_service_list.py)"
    zk_arg=()
    [ $patched = 1 ] && [ -n "${ZK_ADDRESS:-}" ] && zk_arg=(--zk "$ZK_ADDRESS")
    (unset OS_NOVA_DISABLE_EVENTLET_PATCHING
     timeout --kill-after=10 "$STEP_TIMEOUT" \
         "$PY" "$HERE/check_service_list.py" --mode "$mode" "${zk_arg[@]}") \
        > "$WORK/service-list-$mode.txt" 2>&1
    grep -v '^ok ' "$WORK/service-list-$mode.txt" | grep -v '^service-list-' >&2
    grep '^service-list-' "$WORK/service-list-$mode.txt"
    record "service-list-$mode" "$WORK/service-list-$mode.txt"
done
unset OS_NOVA_DISABLE_EVENTLET_PATCHING

total
}

main "$@"
exit $?
