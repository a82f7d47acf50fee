#!/usr/bin/env bash
# Create (or update) the Python venv with the reference frameworks. Idempotent: does nothing
# when the venv exists and requirements.txt has not changed since the last install.
#
#   benches/reference/setup_venv.sh            # venv at benches/reference/.venv
#   MELGRAD_REF_VENV=/some/dir benches/reference/setup_venv.sh
#
# Env: MELGRAD_REF_VENV (venv dir), PYTHON (interpreter to create it with, default python3),
#      TORCH_INDEX_URL (CPU wheels, default https://download.pytorch.org/whl/cpu; set it
#      empty to take torch from PyPI), MELGRAD_REF_REQUIREMENTS (default requirements.txt).
# Prints the venv's python path on the last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MELGRAD_REF_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
requirements="${MELGRAD_REF_REQUIREMENTS:-$here/requirements.txt}"
torch_index="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
stamp="$venv/.melgrad-ref-requirements.sha256"

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "venv up to date: $venv" >&2
    echo "$venv/bin/python"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating venv $venv with $python" >&2
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip >&2

# Prefer the CPU-only torch wheel (a fraction of the CUDA build's download). Same version pin.
torch_pin="$(grep -E '^torch==' "$requirements" || true)"
if [[ -n "$torch_pin" && -n "$torch_index" ]]; then
    if ! "${pip[@]}" install -q "$torch_pin" --index-url "$torch_index" >&2; then
        echo "CPU index $torch_index unavailable; torch will come from PyPI" >&2
    fi
fi
"${pip[@]}" install -q -r "$requirements" >&2
"$venv/bin/python" -c "import numpy, torch, keras, tensorflow" >&2
echo "$want" > "$stamp"
echo "venv ready: $venv" >&2
echo "$venv/bin/python"
