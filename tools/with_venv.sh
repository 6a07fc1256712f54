#!/bin/bash
# Run a command inside the project's virtualenv.
TOOLS=$(dirname "$0")
VENV=${VENV:-$TOOLS/../.venv}
source "$VENV/bin/activate" && exec "$@"
