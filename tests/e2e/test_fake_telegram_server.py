"""The kind e2e's in-cluster fake Telegram (`python -m tests.fakes.telegram_server`), checked here
without a cluster: it answers the Bot API, records calls, and its control surface works."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.fakes.telegram import TOKEN
from tests.fakes.telegram_server import TelegramServer

ROOT = Path(__file__).resolve().parents[2]


async def test_bot_api_and_control_surface() -> None:
    server = await TelegramServer(host="127.0.0.1", port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/bot{TOKEN}/getMe") as r:
                assert (await r.json())["result"]["is_bot"] is True
            form = aiohttp.FormData()
            form.add_field("chat_id", "1001")
            form.add_field("video", b"\x00" * 1234, filename="v.mp4", content_type="video/mp4")
            async with http.post(f"{base}/bot{TOKEN}/sendVideo", data=form) as r:
                assert (await r.json())["ok"] is True
            async with http.get(f"{base}/_control/calls") as r:
                calls = await r.json()
            assert [c["method"] for c in calls] == ["getMe", "sendVideo"]
            assert calls[1]["params"]["chat_id"] == "1001" and calls[1]["files"] == {"video": 1234}
            async with http.post(f"{base}/_control/updates", json=server.text_update(7, "/start")) as r:
                pushed = await r.json()
            async with http.post(f"{base}/bot{TOKEN}/getUpdates", json={"timeout": 0}) as r:
                updates = (await r.json())["result"]
            assert [u["update_id"] for u in updates] == [pushed["update_id"]]
            async with http.post(f"{base}/_control/updates", json=[1, 2]) as r:
                assert r.status == 400
            async with http.get(f"{base}/_control/health") as r:
                assert await r.text() == "ok"
    finally:
        await server.stop()


async def test_runs_as_a_module_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_server",
        "--port",
        "0",
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        port = re.search(r":(\d+) ", line)
        assert port, line
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port.group(1)}/_control/health") as r:
                assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
