#!/bin/bash
# Start a throw-away ZooKeeper server on 127.0.0.1 (tickTime 200 ms, a free
# port, data in a temp dir), run tools/py27/smoke_original.py against it with
# the Python 2.7 virtualenv, stop the server.
#
# Usage: tools/py27/run_smoke.sh [VENV_DIR] [smoke_original.py options...]
#        (default VENV_DIR: <repo>/.venv27, built by tools/py27/build_venv.sh)
# Needs the Debian packages zookeeper (the server jars) and a Java runtime.
set -eu
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
VENV=${1:-$REPO_ROOT/.venv27}
[ $# -gt 0 ] && shift
PY="$VENV/bin/python"
[ -x "$PY" ] || { echo "run_smoke: no $PY; run tools/py27/build_venv.sh first" >&2; exit 3; }
JAR=/usr/share/java/zookeeper.jar
[ -f "$JAR" ] || { echo "run_smoke: $JAR missing (Debian package zookeeper)" >&2; exit 4; }

WORK=$(mktemp -d /tmp/py27-zk.XXXXXX)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/data"
cat > "$WORK/zoo.cfg" <<EOF
tickTime=200
dataDir=$WORK/data
clientPort=$PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
EOF
java -cp /etc/zookeeper/conf:$JAR org.apache.zookeeper.server.ZooKeeperServerMain \
    "$WORK/zoo.cfg" > "$WORK/server.log" 2>&1 &
ZKPID=$!
cleanup() {
    kill -CONT "$ZKPID" 2>/dev/null || true
    kill "$ZKPID" 2>/dev/null || true
    wait "$ZKPID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ok=""
for _ in $(seq 1 100); do
    if exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
        printf ruok >&3
        reply=$(head -c 4 <&3 || true)
        exec 3<&- 3>&-
        [ "$reply" = imok ] && { ok=1; break; }
    fi
    sleep 0.1
done
[ -n "$ok" ] || { echo "run_smoke: ZooKeeper did not start:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
echo "run_smoke: ZooKeeper pid $ZKPID on 127.0.0.1:$PORT" >&2
"$PY" "$HERE/smoke_original.py" "127.0.0.1:$PORT" --zk-pid "$ZKPID" "$@"
