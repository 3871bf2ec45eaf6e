"""vidgen: Telegram photo → AI video, Kubernetes-native.

`vidgen.operator` lives in the top-level folder operator/, which has no `__init__.py` on
purpose: a regular package named `operator` in the working directory would shadow the
standard library's `operator` module (and break `python -m …` run from the checkout). In a
wheel the folder is installed as vidgen/operator/; in an editable install it stays where it
is, so the checkout's root is added to this package's search path to find it.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_root = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "operator").exists() and (_root / "operator").is_dir():
    __path__.append(str(_root))
