# Shared by scripts/run and scripts/test: a virtualenv in .venv with vidgen installed
# (editable, with every extra), re-installed only when pyproject.toml or setup.py change.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
fi
# VIDGEN_EXTRAS: what to install (default dev, i.e. everything; scripts/run needs less). The
# stamp records the extras too; a dev install satisfies any request.
extras="${VIDGEN_EXTRAS:-dev}"
stamp=".venv/.vidgen-installed"
want="$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "$have" != "$want" ] && [ "$have" != "$want dev" ] && [ "$have" != "$want $extras" ]; then
  echo "installing vidgen[$extras] and its dependencies into .venv …"
  .venv/bin/python -m pip install -q -e ".[$extras]"
  echo "$want $extras" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
