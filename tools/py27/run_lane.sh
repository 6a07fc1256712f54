#!/bin/bash
# The Python 2.7 lane: the zk driver patched into the REAL Grizzly 2013.1.5
# tree, on Grizzly's own requirements and the ORIGINAL zkpython and
# evzookeeper 0.4.0, run with Grizzly's own runner and binaries.
#
#   tools/py27/run_lane.sh [testr filters...]     (run_tests.sh --py27 / -2)
#
# 1. builds or refreshes the Python 2.7 virtualenv (tools/py27/build_venv.sh;
#    VENV27 overrides its place, default <repo>/.venv27);
# 2. unpacks ../shared/grizzly/nova-2013.1.5.tar.gz into a temporary folder,
#    makes it a git checkout at tag 2013.1.5 (what an operator has; Grizzly's
#    setup.py takes its version from git) and runs tools/patch_grizzly.py on
#    it, as doc/grizzly.md tells operators to;
# 3. checks that the tree imports zookeeper / evzookeeper from the
#    virtualenv (the originals), not from this project's ports/;
# 4. starts ZooKeeper on 127.0.0.1:2181 (Grizzly's own test_zk_driver.py
#    connects to localhost:2181) and runs Grizzly's run_tests.sh -N
#    nova.tests.servicegroup: Grizzly's test_db_servicegroup,
#    test_mc_servicegroup and test_zk_driver and the patch's
#    test_zk_servicegroup, under testr; prints the results per file and fails
#    on any failure or skip;
# 5. runs the operator's end-to-end with Grizzly's bin/nova-manage and
#    bin/nova-compute (tools/py27/grizzly_e2e.py).
# The last line is "N passed, N failed, N skipped" over 4 and 5.
#
# Exit status: 0 all passed; 3 no Python 2.7 interpreter; 4 missing
# ZooKeeper C client or compiler; 1 anything else (a failed test included).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${VENV27:-$REPO/.venv27}
TARBALL=${GRIZZLY_TARBALL:-$REPO/../shared/grizzly/nova-2013.1.5.tar.gz}
START=$SECONDS

say() { echo "py27 lane: $*" >&2; }

# Nothing from the caller's Python setup may leak in: run_tests.sh -N puts
# ports/ on PYTHONPATH, which would hide the originals.
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE
export PYTHONNOUSERSITE=1
# cryptography 3.3 warns on every start that Python 2 is deprecated.
export PYTHONWARNINGS="ignore:Python 2 is no longer supported"

# ---- 1. the virtualenv ----------------------------------------------------
PIP_QUIET=${PIP_QUIET:-1} "$HERE/build_venv.sh" "$VENV"
rc=$?
case $rc in
    0) ;;
    3)
        cat >&2 <<'EOF'
py27 lane: NOT RUN: there is no Python 2.7 interpreter on this machine.
  The lane runs Grizzly 2013.1.5 on Python 2.7 with the original zkpython and
  evzookeeper 0.4.0, so it needs a CPython 2.7 with headers and pip
  (Debian 12 ships none): `pyenv install 2.7.18`, or PYTHON27=/path/to/python2.7.
EOF
        exit 3;;
    *)
        say "building the virtualenv $VENV failed (build_venv.sh exit $rc)"
        exit $rc;;
esac
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"     # Grizzly's run_tests.sh -N calls `python`

[ -f "$TARBALL" ] || { say "the Grizzly tree $TARBALL is missing"; exit 1; }
command -v java >/dev/null || { say "java not found; run tools/install_deps.sh"; exit 1; }

# ---- 2. the real tree, patched ---------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nova-py27-lane.XXXXXX") || exit 1
ZKDIR="$WORK/zk2181"
TREE="$WORK/nova-2013.1.5"
cleanup() {
    [ -d "$TREE" ] && (cd "$TREE" && "$PY" -m nova.tests.zkserver stop --dir "$ZKDIR" >/dev/null 2>&1)
    rm -rf "$WORK"
}
trap cleanup EXIT
tar -xzf "$TARBALL" -C "$WORK" || { say "cannot unpack $TARBALL"; exit 1; }
(cd "$TREE" && git init -q && git add -A &&
    git -c user.name=lane -c user.email=lane@localhost commit -qm 2013.1.5 &&
    git tag 2013.1.5) || { say "cannot make $TREE a git checkout"; exit 1; }
say "Grizzly 2013.1.5 unpacked into $TREE"
"$PY" "$REPO/tools/patch_grizzly.py" "$TREE" | sed -n '/^\(add\|replace\|keep\) /p' >&2
[ "${PIPESTATUS[0]}" = 0 ] || { say "tools/patch_grizzly.py $TREE failed"; exit 1; }

# ---- 3. which libraries the tree imports ----------------------------------
cd "$TREE" || exit 1
"$PY" - "$VENV" "$REPO" <<'EOF' || { say "the lane does not use the original libraries"; exit 1; }
from __future__ import print_function
import os
import sys
import pkg_resources

venv, repo = sys.argv[1:3]
site = os.path.realpath(os.path.join(venv, 'lib', 'python2.7',
                                     'site-packages'))
ports = os.path.realpath(os.path.join(repo, 'ports'))
tree = os.path.realpath(os.getcwd())

import eventlet
import evzookeeper
from evzookeeper import membership
import zookeeper
from nova.servicegroup.drivers import zk
from nova.tests.servicegroup import test_zk_servicegroup


def where(module):
    return os.path.realpath(module.__file__)


problems = []
rows = [
    ('zookeeper', 'zkpython %s (C client %s)'
     % (pkg_resources.get_distribution('zkpython').version,
        zookeeper.__version__), zookeeper, site),
    ('evzookeeper', 'evzookeeper %s'
     % pkg_resources.get_distribution('evzookeeper').version,
     evzookeeper, site),
    ('evzookeeper.membership', '', membership, site),
    ('eventlet', 'eventlet %s' % eventlet.__version__, eventlet, site),
    ('nova.servicegroup.drivers.zk', 'the patched driver', zk, tree),
]
print('Python %s at %s' % (sys.version.split()[0], sys.executable))
for name, what, module, home in rows:
    path = where(module)
    print('  %-30s %-34s %s' % (name, what, path))
    if not path.startswith(home + os.sep):
        problems.append('%s comes from %s, not from %s' % (name, path, home))
    if path.startswith(ports + os.sep):
        problems.append('%s is this project\'s port (%s)' % (name, path))
if not test_zk_servicegroup.ORIGINAL_LIBS:
    problems.append('test_zk_servicegroup.ORIGINAL_LIBS is false')
for problem in problems:
    print('py27 lane: %s' % problem, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

# ---- 4. Grizzly's runner on the servicegroup tests --------------------------
"$PY" -c 'import socket; socket.create_connection(("127.0.0.1", 2181), 1)' 2>/dev/null && {
    say "127.0.0.1:2181 is in use; Grizzly's own test_zk_driver.py needs it for its server (stop the ZooKeeper there)"; exit 1; }
("$PY" -m nova.tests.zkserver start --port 2181 --tick-time 2000 \
    --dir "$ZKDIR") >&2 || { say "cannot start ZooKeeper on 127.0.0.1:2181 (in use?)"; exit 1; }
filters=("$@")
[ ${#filters[@]} -eq 0 ] && filters=(nova.tests.servicegroup)
say "running Grizzly's ./run_tests.sh -N ${filters[*]}"
# bounded: a hung test process (or a child it forked) would keep the
# runner waiting for good; timeout signals its whole process group
timeout --kill-after=10 "${LANE_UNITS_TIMEOUT:-600}" \
    ./run_tests.sh -N "${filters[@]}" > "$WORK/run_tests.log" 2>&1
runner_rc=$?
[ $runner_rc -eq 124 ] || [ $runner_rc -eq 137 ] && \
    say "Grizzly's run_tests.sh did not end within ${LANE_UNITS_TIMEOUT:-600} s; stopped"
grep -v -e '^nova\.tests\.[^ ]*$' -e CryptographyDeprecationWarning \
    -e 'from cryptography import' "$WORK/run_tests.log" | tail -n 30
testr last --subunit > "$WORK/servicegroup.subunit" 2>/dev/null
"$PY" "$HERE/subunit_report.py" "$WORK/servicegroup.subunit" "$runner_rc" \
    ${LANE_EXPECT:-test_db_servicegroup test_mc_servicegroup test_zk_driver test_zk_servicegroup} \
    | tee "$WORK/units.txt"
units_rc=${PIPESTATUS[0]}
"$PY" -m nova.tests.zkserver stop --dir "$ZKDIR" >&2

# ---- 5. the operator's end-to-end ------------------------------------------
say "end-to-end with Grizzly's bin/nova-manage and bin/nova-compute"
"$PY" "$HERE/grizzly_e2e.py" "$TREE" | tee "$WORK/e2e.txt"
e2e_rc=${PIPESTATUS[0]}

say "done in $((SECONDS - START)) s (virtualenv refresh included)"
"$PY" - "$WORK/units.txt" "$WORK/e2e.txt" <<'EOF'
import re, sys
totals = [0, 0, 0]
for path in sys.argv[1:]:
    counts = None
    for line in open(path):
        m = re.match(r'^\w+: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?$',
                     line)
        if m:
            counts = [int(g or 0) for g in m.groups()]
    if counts is None:
        counts = [0, 1, 0]      # a step that printed no count failed
    totals = [a + b for a, b in zip(totals, counts)]
print('%d passed, %d failed, %d skipped' % tuple(totals))
EOF
[ $units_rc -eq 0 ] && [ $e2e_rc -eq 0 ]
