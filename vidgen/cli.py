"""The `vidgen` command. Each subcommand lives in the module that owns it and is registered
here by name; a module's `register(subparsers)` must not import heavy optional dependencies at
import time (images install only their extra), only inside the handler it sets."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from vidgen.core.settings import ConfigError

#: Modules that add subcommands (each has `register(subparsers)`).
COMMAND_MODULES = [
    "vidgen.core.db.cli",
    "vidgen.runner.cli",
    "vidgen.operator.cli",
    "vidgen.bot.cli",
    "vidgen.local.cli",
    "vidgen.analytics.cli",
    "vidgen.api.cli",
]

#: Top-level packages each command needs (its extra). An image installs some extras only — the
#: runner image just `runner` — and `vidgen` offers only the commands it can run there.
REQUIRES: dict[str, tuple[str, ...]] = {
    "vidgen.runner.cli": ("openai", "httpx", "imageio_ffmpeg", "PIL"),
    "vidgen.operator.cli": ("kopf", "kubernetes", "aiogram", "prometheus_client"),
    "vidgen.bot.cli": ("aiogram", "kubernetes", "prometheus_client", "PIL"),
    "vidgen.local.cli": ("aiogram", "openai", "httpx", "imageio_ffmpeg", "PIL", "prometheus_client"),
    "vidgen.analytics.cli": ("httpx",),
    "vidgen.api.cli": ("fastapi", "uvicorn", "multipart", "standardwebhooks"),
}


def available(module: str) -> bool:
    for name in REQUIRES.get(module, ()):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidgen", description="Telegram photo → AI video, Kubernetes-native."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if not available(name):
            continue  # that part of vidgen is not installed in this build
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part of vidgen is not in this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        raise SystemExit(2)
    try:
        code = handler(args)
    except ConfigError as exc:
        print(f"vidgen: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    raise SystemExit(code or 0)


if __name__ == "__main__":
    main()
