"""vidgen: Telegram photo → AI video, Kubernetes-native.

The root package only. Each part is a top-level folder of the checkout imported as
`vidgen.<folder>` (setup.py maps them): vidgen.core, vidgen.storage, vidgen.runner,
vidgen.operator, vidgen.local, vidgen.bot, vidgen.analytics.

operator/ has no `__init__.py` on purpose: a regular package named `operator` in the working
directory would shadow the standard library's `operator` module (and break `python -m …` run
from the checkout). In a wheel every part is installed under vidgen/; in an editable install the
parts stay where they are, so the checkout's root is added to this package's search path.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_root = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "operator").exists() and (_root / "operator").is_dir():
    __path__.append(str(_root))
