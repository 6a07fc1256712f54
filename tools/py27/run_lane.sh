#!/bin/bash
# The Python 2.7 lane: the zk driver, patched into a Grizzly-shaped tree, on
# the ORIGINAL libraries (zkpython, evzookeeper 0.4.0, eventlet 0.16.1).
#
#   tools/py27/run_lane.sh [nose names...]      (run_tests.sh --py27 / -2)
#
# 1. builds or refreshes the Python 2.7 virtualenv (tools/py27/build_venv.sh;
#    VENV27 overrides its place, default <repo>/.venv27);
# 2. makes a Grizzly-shaped tree in a temporary directory (this project's
#    nova/ without the driver's file set: grizzly_shaped_tree() of
#    nova/tests/test_patch_grizzly.py) and applies tools/patch_grizzly.py;
# 3. checks, from inside that tree, that `zookeeper` and `evzookeeper` come
#    from the virtualenv's site-packages and not from ports/, and prints
#    their paths and versions;
# 4. runs the patched servicegroup tests with the virtualenv's nose; the
#    last line is tools/count_results.py's "N passed, N failed, N skipped".
#
# Exit status: 0 all passed; 3 no Python 2.7 interpreter; 4 missing
# ZooKeeper C client or compiler; 1 anything else (a failed test included).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENV=${VENV27:-$REPO/.venv27}
START=$SECONDS
# The patched tests of nova/tests/servicegroup that apply to a Grizzly
# checkout: the zk driver's (the patched file) and the API's and db
# driver's, which the patch must not break.
TESTS_DEFAULT=(nova/tests/servicegroup/test_zk_driver.py
               nova/tests/servicegroup/test_api.py
               nova/tests/servicegroup/test_db_servicegroup.py)

say() { echo "py27 lane: $*" >&2; }

# Nothing from the caller's Python setup may leak in: run_tests.sh -N puts
# ports/ on PYTHONPATH, which would hide the originals.
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE
export PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1

# ---- 1. the virtualenv ----------------------------------------------------
# (pip -q: only errors, not a "Requirement already satisfied" per pin)
PIP_QUIET=${PIP_QUIET:-1} "$HERE/build_venv.sh" "$VENV"
rc=$?
case $rc in
    0) ;;
    3)
        cat >&2 <<'EOF'
py27 lane: NOT RUN: there is no Python 2.7 interpreter on this machine.
  The lane tests the zk driver on Python 2.7 with the original zkpython and
  evzookeeper 0.4.0, so it needs a CPython 2.7 with headers and pip
  (Debian 12 ships none): `pyenv install 2.7.18`, or PYTHON27=/path/to/python2.7.
  It fails because --py27 was asked for; ./run_tests.sh alone skips the lane.
EOF
        exit 3;;
    *)
        say "building the virtualenv $VENV failed (build_venv.sh exit $rc)"
        exit $rc;;
esac
PY="$VENV/bin/python"

for need in java; do
    command -v $need >/dev/null || say "$need not found; run tools/install_deps.sh"
done

# ---- 2. a Grizzly-shaped tree, patched -----------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nova-py27-lane.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
TREE="$WORK/tree"
(cd "$REPO" && "$PY" -c '
import sys
sys.path.insert(0, ".")
from nova.tests.test_patch_grizzly import grizzly_shaped_tree
grizzly_shaped_tree(sys.argv[1])
' "$TREE") || { say "cannot make the Grizzly-shaped tree"; exit 1; }
"$PY" "$REPO/tools/patch_grizzly.py" "$TREE" | sed -n '/^\(add\|replace\|keep\) /p' >&2
[ "${PIPESTATUS[0]}" = 0 ] || { say "tools/patch_grizzly.py $TREE failed"; exit 1; }

# ---- 3. which libraries the tree imports ----------------------------------
cd "$TREE" || exit 1
"$PY" - "$VENV" "$REPO" <<'EOF' || { say "the lane does not use the original libraries"; exit 1; }
from __future__ import print_function
import os
import sys
import warnings
warnings.simplefilter('ignore', DeprecationWarning)
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
from nova.tests.servicegroup import test_zk_driver


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
if not test_zk_driver.ORIGINAL_LIBS:
    problems.append('test_zk_driver.ORIGINAL_LIBS is false')
print('  test_zk_driver.ORIGINAL_LIBS = %s' % test_zk_driver.ORIGINAL_LIBS)
for problem in problems:
    print('py27 lane: %s' % problem, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

# ---- 4. the tests -----------------------------------------------------------
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=("${TESTS_DEFAULT[@]}")
xunit="$WORK/xunit.xml"
"$PY" -m nose -v --with-xunit --xunit-file="$xunit" "${tests[@]}"
rc=$?
say "done in $((SECONDS - START)) s (virtualenv refresh included)"
"$PY" "$REPO/tools/count_results.py" "$xunit" $rc
