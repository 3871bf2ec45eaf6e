"""VIDGEN_LOG_FORMAT=json: every line a process writes is one JSON object — vidgen's loggers
(created at import time, before `configure_logging`), and the standard library's loggers of
kopf, aiogram, SQLAlchemy and Alembic, exceptions included."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import asyncio, logging
import vidgen.operator.handlers, vidgen.operator.k8s, vidgen.bot.app  # loggers bound at import
from vidgen.core.logging import configure_logging, get_logger
from sqlalchemy import create_engine, text
configure_logging("json", "INFO")
vidgen.operator.handlers.log.info("operator line", namespace="ns")
vidgen.operator.k8s.log.bind(generation="vg-1").warning("bound line")
logging.getLogger("kopf.objects").info("kopf tick")  # quiet below WARNING
logging.getLogger("kopf.objects").warning(
    "kopf line %s", 1, extra={"k8s_skip": False, "settings": __import__("kopf").OperatorSettings(), "k8s_obj": {"metadata": {"name": "vg-1", "namespace": "ns"}}}
)
logging.getLogger("aiogram.dispatcher").info("Start polling")
logging.getLogger("alembic.runtime.migration").info("Running upgrade")
logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
engine = create_engine("sqlite://")
with engine.connect() as conn:
    conn.execute(text("select 1"))
try:
    1 / 0
except ZeroDivisionError:
    get_logger("vidgen.test").exception("failed")
    logging.getLogger("kopf").exception("kopf failed")
"""


def test_every_line_is_json() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not JSON: {line!r}") from None
    by_logger = {r["logger"]: r for r in records}
    assert by_logger["vidgen.operator.handlers"]["event"] == "operator line"
    assert by_logger["vidgen.operator.k8s"]["generation"] == "vg-1"
    kopf_line = by_logger["kopf.objects"]
    assert kopf_line["event"] == "kopf line 1" and kopf_line["object"] == "ns/vg-1"
    assert "settings" not in kopf_line and "k8s_obj" not in kopf_line
    assert "kopf tick" not in proc.stderr
    assert "aiogram.dispatcher" in by_logger and "alembic.runtime.migration" in by_logger
    assert any(name.startswith("sqlalchemy.engine") for name in by_logger)
    assert "ZeroDivisionError" in by_logger["vidgen.test"]["exception"]
    assert "ZeroDivisionError" in by_logger["kopf"]["exception"]
    assert all({"timestamp", "level", "event"} <= set(r) for r in records)
