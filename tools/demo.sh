#!/bin/bash
# The README's first command: set up what is missing, then run the demo
# (a local ZooKeeper, SQLite, three nova-compute workers on the zk driver,
# one of them killed).  Extra arguments go to tools/demo.py.
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/install_venv.sh
exec tools/with_venv.sh python tools/demo.py "$@"
