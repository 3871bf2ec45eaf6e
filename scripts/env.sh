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
stamp=".venv/.vidgen-installed"
want="$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing vidgen and its dependencies into .venv …"
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
