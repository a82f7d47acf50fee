#!/usr/bin/env bash
# One command for the whole side-by-side benchmark: sets up the venv (once), then runs
# compare.py with the given arguments, e.g.
#   benches/reference/run.sh --quick
#   benches/reference/run.sh --frameworks torch,keras --quick
# MELGRAD_REF_PYTHON=/path/to/python skips the venv setup and uses that interpreter.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -n "${MELGRAD_REF_PYTHON:-}" ]]; then
    python="$MELGRAD_REF_PYTHON"
else
    python="$("$here/setup_venv.sh" | tail -n 1)"
fi
exec "$python" "$here/compare.py" --python "$python" "$@"
