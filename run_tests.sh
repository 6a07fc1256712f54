#!/bin/bash
# Run nova's tests: ./run_tests.sh [options] [test names...]
set -u

function usage {
  echo "Usage: $0 [OPTION]... [TESTS]"
  echo "Run nova's test suite(s)"
  echo ""
  echo "  -V, --virtual-env        Always use virtualenv.  Install automatically if not present"
  echo "  -N, --no-virtual-env     Don't use virtualenv.  Run tests in local environment"
  echo "  -f, --force              Force a clean re-build of the virtual environment"
  echo "  -p, --pep8               Just run the style check (flake8)"
  echo "  -c, --coverage           Generate coverage report"
  echo "  -2, --py27               The Python 2.7 lane instead: build .venv27 with Grizzly's"
  echo "                           requirements and the original zkpython/evzookeeper 0.4.0,"
  echo "                           patch the real Grizzly 2013.1.5 tree (tools/patch_grizzly.py),"
  echo "                           run its servicegroup tests with Grizzly's runner and an"
  echo "                           end-to-end with its binaries (tools/py27/run_lane.sh)."
  echo "                           Fails when there is no Python 2.7; without -2 it never runs."
  echo "  --nova34                 The Nova 34 lane instead: build .venv-nova34 with the real"
  echo "                           Nova 34.0.0 (2026.2) from PyPI, patch it (tools/patch_nova.py),"
  echo "                           run Nova's servicegroup unit tests, our functional tests and"
  echo "                           the end-to-end in threading and eventlet mode with stestr"
  echo "                           (tools/nova34/run_lane.sh)."
  echo "  -h, --help               Print this usage message"
  echo ""
  echo "TESTS are nose names (nova/tests/servicegroup, nova.tests.test_service:ServiceTestCase)."
  echo "The last line reads 'N passed, N failed': the counts of the whole run."
  exit
}

venv=.venv
with_venv=tools/with_venv.sh
always_venv=1
force=0
just_pep8=0
coverage=0
py27=0
nova34=0
testargs=()

for arg in "$@"; do
  case "$arg" in
    -h|--help) usage;;
    -V|--virtual-env) always_venv=1;;
    -N|--no-virtual-env) always_venv=0;;
    -f|--force) force=1;;
    -p|--pep8) just_pep8=1;;
    -c|--coverage) coverage=1;;
    -2|--py27) py27=1;;
    --nova34) nova34=1;;
    -*) echo "run_tests.sh: unknown option $arg" >&2; usage;;
    *) testargs+=("$arg");;
  esac
done

cd "$(dirname "$0")"

if [ $py27 -eq 1 ]; then
  # TESTS are then testr filters inside the patched tree.
  exec tools/py27/run_lane.sh "${testargs[@]}"
fi
if [ $nova34 -eq 1 ]; then
  [ ${#testargs[@]} -eq 0 ] || { echo "run_tests.sh: --nova34 takes no test names" >&2; exit 1; }
  exec tools/nova34/run_lane.sh
fi
TESTS_DEFAULT=(nova/tests ports/zookeeper/tests ports/evzookeeper/tests zkgroup/tests/core)

if [ $always_venv -eq 1 ]; then
  if [ $force -eq 1 ]; then
    tools/install_venv.sh -f || exit 1
  else
    tools/install_venv.sh || exit 1
  fi
  wrapper="$with_venv"
else
  wrapper=""
  export PYTHONPATH="$PWD:$PWD/ports/zookeeper:$PWD/ports/evzookeeper:$PWD/zkgroup${PYTHONPATH:+:$PYTHONPATH}"
fi

if [ $just_pep8 -eq 1 ]; then
  ${wrapper} python -m flake8 nova ports tools zkgroup
  exit $?
fi

# The zk tests start real servers: say what is missing rather than skip.
for need in java memcached; do
  command -v $need >/dev/null || echo "run_tests.sh: $need not found; run tools/install_deps.sh" >&2
done

[ ${#testargs[@]} -eq 0 ] && testargs=("${TESTS_DEFAULT[@]}")
xunit=$(mktemp /tmp/nova-xunit.XXXXXX.xml)
trap 'rm -f "$xunit"' EXIT

runner=(python -m nose)
if [ $coverage -eq 1 ]; then
  ${wrapper} python -m coverage erase
  runner=(python -m coverage run --source=nova,zookeeper,evzookeeper,zkgroup --parallel-mode -m nose)
fi
${wrapper} "${runner[@]}" -v --with-xunit --xunit-file="$xunit" "${testargs[@]}"
rc=$?
if [ $coverage -eq 1 ]; then
  ${wrapper} python -m coverage combine >/dev/null
  ${wrapper} python -m coverage report -m | tail -n 40
  ${wrapper} python -m coverage html -d covhtml >/dev/null
fi
python3 tools/count_results.py "$xunit" $rc
