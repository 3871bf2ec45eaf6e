"""`vidgen operator`: run the kopf operator in the settings' namespace.

Peering is on by default (the KopfPeering object named by VIDGEN_PEERING_NAME must exist, see
crds/kopfpeering.yaml), so replicas never act twice; `--standalone` runs a single replica
without it (development, tests)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "operator", help="run the kopf operator (admission, Jobs, delivery, refunds)"
    )
    parser.add_argument("--standalone", action="store_true", help="no peering (a single replica)")
    parser.add_argument("--namespace", help="watch this namespace (default: VIDGEN_NAMESPACE)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from vidgen.core.logging import configure_logging
    from vidgen.core.settings import load_settings

    from .handlers import OperatorRuntime

    overrides = {"namespace": args.namespace} if args.namespace else {}
    settings = load_settings(**overrides)
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(OperatorRuntime(settings, standalone=args.standalone).run())
    return 0
