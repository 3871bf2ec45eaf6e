"""`vidgen generate PHOTO`: a real subprocess through the local controller and a runner
subprocess — a playable MP4 and its path at the end, the local user's credits through the ledger,
clear one-line errors for bad photos, a refused generation refunded, Ctrl-C cancelling cleanly —
and in-process on PostgreSQL + S3 with the fake KIE.AI and OpenAI."""

from __future__ import annotations

import asyncio
import io
import signal
from pathlib import Path

import boto3
import psycopg
import pytest
from sqlalchemy import select

from tests.conftest import TABLES
from tests.e2e_local.kit import ROOT, VIDGEN, alive, books, local_env, local_settings, probe_mp4, until
from tests.fakes.kie import FakeKie
from tests.fakes.openai_api import FakeOpenAI
from vidgen.core.db.engine import make_engine, make_sessionmaker
from vidgen.core.db.models import CreditEntry, Event
from vidgen.core.lifecycle import Phase
from vidgen.core.models import GenerationSpec, video_key
from vidgen.core.status import Generation
from vidgen.core.texts import t
from vidgen.local.generate import LOCAL_USER_ID, GenerateError, ProgressBar, generate, read_photo
from vidgen.storage import storage_from_url

CAT = ROOT / "examples" / "cat.jpg"


def db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'vidgen.db'}"


async def vidgen_generate(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        VIDGEN, "generate", *args, env=env or local_env(tmp_path), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def grants(tmp_path: Path) -> list[CreditEntry]:
    engine = make_engine(db(tmp_path))
    try:
        async with make_sessionmaker(engine)() as session:
            query = select(CreditEntry).where(CreditEntry.kind == "admin_grant").order_by(CreditEntry.id)
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


async def test_generate_makes_a_playable_mp4_and_prints_its_path(tmp_path: Path) -> None:
    code, out, err = await vidgen_generate(
        tmp_path, str(CAT), "--prompt", "the cat waves", "--out", "out/cat.mp4"
    )
    assert code == 0, err
    video = tmp_path / "out" / "cat.mp4"
    assert out == f"{video}\n"
    frames, seconds = probe_mp4(video)
    assert frames >= 8 and 0.5 <= seconds <= 1.5  # the sandbox's 1 s clip at 8 fps (kit.FAST)
    lines = err.splitlines()
    assert lines[0].startswith(f"vidgen generate: {CAT}") and "sandbox provider" in lines[0]
    assert lines[-1].endswith("] delivered") and "Traceback" not in err

    ledger = await books(db(tmp_path), LOCAL_USER_ID)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (0, 1, 0)
    [row] = ledger.generations
    assert (row.phase, row.attempts, row.prompt, row.telegram_file_id) == (
        "Delivered",
        1,
        "the cat waves",
        str(video),
    )
    [grant] = await grants(tmp_path)
    assert (grant.actor, grant.delta, grant.ref) == ("local-cli", 1, f"local-cli:{row.name}")

    # Again, with the default output path: one more grant of exactly the price.
    code, out, err = await vidgen_generate(tmp_path, str(CAT))
    assert code == 0, err
    second = Path(out.strip())
    assert second.parent == tmp_path / "out" and second.name.startswith("vg-0-")
    assert probe_mp4(second)[0] > 0
    assert [g.delta for g in await grants(tmp_path)] == [1, 1]
    assert (await books(db(tmp_path), LOCAL_USER_ID)).balance == 0


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        ("missing.jpg", "missing.jpg: no such file"),
        ("notes.txt", "notes.txt: not an image or a corrupt one (UnidentifiedImageError)"),
    ],
)
async def test_a_bad_photo_is_one_clear_line_and_nothing_is_charged(
    tmp_path: Path, photo: str, message: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a photo")
    code, out, err = await vidgen_generate(tmp_path, photo)
    assert (code, out) == (2, "")
    assert err == f"vidgen generate: {message}\n"
    assert not (tmp_path / "vidgen.db").exists()  # refused before anything was written


def test_every_photo_problem_has_its_own_message(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "folder").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "tiny.png")
    (tmp_path / "huge.jpg").write_bytes(CAT.read_bytes())
    (tmp_path / "photo.png").write_bytes(b"")
    Image.new("RGBA", (100, 80), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    cases = {
        "folder": "a folder, not a photo",
        "tiny.png": "8x8, at least 64 px per side",
        "photo.png": "the photo is an empty file",
    }
    for name, message in cases.items():
        with pytest.raises(GenerateError) as caught:
            read_photo(tmp_path / name, 10_000_000)
        assert str(caught.value) == f"{tmp_path / name}: {message}"
    with pytest.raises(GenerateError, match="bytes, at most 1000 allowed"):
        read_photo(tmp_path / "huge.jpg", 1000)
    assert read_photo(tmp_path / "clear.png", 10_000_000)[:2] == b"\xff\xd8"  # PNG → JPEG, as the bot


async def test_a_refused_generation_is_refunded_and_says_why(tmp_path: Path) -> None:
    env = local_env(tmp_path, sandbox_failures="*:501:the photo violates the content policy")
    code, out, err = await vidgen_generate(tmp_path, str(CAT), "--out", "out/no.mp4", env=env)
    assert (code, out) == (1, "")
    assert t("error.user_violation", "en") in err and "USER_VIOLATION provider_501" in err
    assert not (tmp_path / "out" / "no.mp4").exists()
    ledger = await books(db(tmp_path), LOCAL_USER_ID)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 1)
    assert ledger.generations[0].phase == "Failed" and ledger.generations[0].attempts == 1


async def test_ctrl_c_cancels_stops_the_runner_and_refunds(tmp_path: Path) -> None:
    env = local_env(tmp_path, sandbox_latency_seconds=60)
    proc = await asyncio.create_subprocess_exec(
        VIDGEN, "generate", str(CAT), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    async with asyncio.timeout(60):
        while b"generating (attempt 1)" not in await proc.stderr.readline():
            pass
        await until(lambda: list((tmp_path / "data" / "checkpoints").glob("*.json")), 30, "the task")
        [pid_file] = (tmp_path / "runs").glob("*.pid")
        proc.send_signal(signal.SIGINT)
        out, rest = await proc.communicate()
    assert proc.returncode == 130 and out == b""
    assert b"vidgen generate: cancelled. " + t("error.cancelled", "en").encode() in rest
    assert not alive(int(pid_file.read_text()))
    ledger = await books(db(tmp_path), LOCAL_USER_ID)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (1, 1, 1)
    assert (ledger.generations[0].phase, ledger.generations[0].error_code) == ("Failed", "cancelled")


async def test_generate_on_postgresql_and_s3_with_kie_and_openai(tmp_path: Path, pg_url: str) -> None:
    from moto.server import ThreadedMotoServer

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        creds = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "region_name": "us-east-1"}
        boto3.client("s3", endpoint_url=endpoint, **creds).create_bucket(Bucket="local-media")
        async with FakeKie(generation_seconds=0.2, fetch_images=True) as kie, FakeOpenAI() as openai:
            settings = local_settings(
                tmp_path, None, kie, openai,
                database_url=pg_url, storage_url="s3://local-media/vidgen",
                s3_endpoint_url=endpoint, s3_access_key_id="k", s3_secret_access_key="s",
            )  # fmt: skip
            stream = io.StringIO()
            outcome = await generate(
                settings, CAT, prompt="a slow pan", out=tmp_path / "pg.mp4", stream=stream
            )
            assert outcome.ok, (outcome, stream.getvalue())
            assert kie.create_calls == 1 and len(openai.requests) == 1
        storage = storage_from_url(
            "s3://local-media/vidgen", endpoint_url=endpoint, access_key_id="k", secret_access_key="s"
        )
        assert (tmp_path / "pg.mp4").read_bytes() == storage.get(video_key(outcome.name)) == kie.video
    finally:
        server.stop()
    ledger = await books(pg_url, LOCAL_USER_ID)
    assert (ledger.balance, ledger.debits, ledger.refunds) == (0, 1, 0)
    engine = make_engine(pg_url)
    async with make_sessionmaker(engine)() as session:
        types = set((await session.scalars(select(Event.type).where(Event.generation == outcome.name))).all())
    await engine.dispose()
    assert {"generation_requested", "generation_started", "generation_succeeded", "video_delivered"} <= types


def test_the_progress_bar_draws_phases_on_a_terminal_and_lines_elsewhere() -> None:
    spec = GenerationSpec(name="vg-0-x", user_id=0, chat_id=0, photo="inputs/vg-0-x.jpg")
    states = [
        {"phase": "Queued", "queuePosition": 2},
        {"phase": "Running", "attempts": 1},
        {"phase": "Queued", "attempts": 1, "error": {"class": "RATE_LIMIT", "code": "provider_429"}},
        {"phase": "Running", "attempts": 2},
        {"phase": "Running", "attempts": 2},
        {"phase": "Delivered", "attempts": 2},
    ]
    tty, plain = io.StringIO(), io.StringIO()
    bars = [ProgressBar(tty, tty=True, width=10), ProgressBar(plain, tty=False)]
    for status in states:
        for bar in bars:
            bar.update(Generation("vg-0-x", spec, status))
    for bar in bars:
        bar.finish()
    frames = tty.getvalue().split("\r")[1:]
    assert frames[0].startswith("[##--------]") and "queued (position 2)" in frames[0]
    assert frames[2].startswith("[##--------]") and "retrying: attempt 1 failed" in frames[2]
    assert frames[3].startswith("[####------]") and "generating (attempt 2)" in frames[3]
    assert frames[-1].startswith("[##########]   delivered") and tty.getvalue().endswith("\n")
    labels = [line.split("] ", 1)[1] for line in plain.getvalue().splitlines()]
    assert labels == [
        "queued (position 2)",
        "generating (attempt 1)",
        "retrying: attempt 1 failed (RATE_LIMIT provider_429)",
        "generating (attempt 2)",
        "delivered",
    ]
    assert ProgressBar.label(Generation("vg-0-x", spec, {"phase": "Failed"})) == "failed"
    assert Phase.DELIVERED in ProgressBar.STEPS
