"""Structured logging (structlog): JSON in clusters, console locally. Bind the generation name
with `log.bind(generation=name)` in every place that works on one.

Every line of a process goes through one renderer: structlog's own loggers, and the standard
library's (kopf, aiogram, aiohttp, SQLAlchemy, Alembic, botocore …) through structlog's stdlib
integration (`ProcessorFormatter` on the root handler). `get_logger` returns a lazy logger that
reads the configuration when it logs, so a module may create its logger at import time, before
`configure_logging` runs."""

from __future__ import annotations

import logging
import sys

import structlog

#: Noisy libraries kept at WARNING unless the level is DEBUG (kopf.objects: a line per handler
#: run per object, e.g. every timer tick; vidgen logs each transition itself).
QUIET = (
    "aiohttp.access",
    "botocore",
    "boto3",
    "urllib3",
    "kubernetes",
    "asyncio",
    "httpx",
    "httpcore",
    "kopf.objects",
)


def _kopf_extras(
    _logger: object, _name: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """kopf passes its settings and the whole object as `extra`: keep the object's name only."""
    event.pop("settings", None)
    event.pop("k8s_skip", None)
    obj = event.pop("k8s_obj", None)
    if isinstance(obj, dict):
        meta = obj.get("metadata") or {}
        if meta.get("name"):
            event.setdefault("object", f"{meta.get('namespace') or ''}/{meta['name']}".lstrip("/"))
    return event


def configure_logging(fmt: str = "console", level: str = "INFO") -> None:
    level = level.upper()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    final: list[structlog.typing.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        final.append(structlog.processors.format_exc_info)  # tracebacks as a string field
    final.append(renderer)
    formatter = structlog.stdlib.ProcessorFormatter(
        # Lines from the standard library's loggers: the same fields, their `extra` kept.
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _kopf_extras],
        processors=final,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")


def get_logger(name: str, **bound: object) -> structlog.typing.FilteringBoundLogger:
    """A lazy logger: the configuration is read when it logs, not when it is created."""
    return structlog.get_logger(name, **bound)  # type: ignore[no-any-return]
