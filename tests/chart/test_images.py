"""The images the chart runs, read statically (no Docker here): what the chart relies on —
the user id of its securityContext, the entry points its args assume, pinned multi-stage bases,
nothing left over in the final layers, and a build context without secrets or tests."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.chart.render import CHART, ROOT, container, one, render

DOCKERFILES = ["Dockerfile.bot", "Dockerfile.runner", "tests/e2e/Dockerfile.fake-telegram"]
CHART_UID = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]["runAsUser"]


def instructions(path: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / path).read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(path: str) -> list[tuple[str, str]]:
    ins = instructions(path)
    last = max(i for i, (op, _) in enumerate(ins) if op == "FROM")
    return ins[last:]


def base_images(path: str) -> list[str]:
    args = dict(a.split("=", 1) for op, a in instructions(path) if op == "ARG" and "=" in a)
    images = []
    for op, a in instructions(path):
        if op == "FROM":
            image = a.split()[0]
            images.append(args.get(image.strip("${}"), image) if image.startswith("$") else image)
    return images


@pytest.mark.parametrize("path", DOCKERFILES)
def test_pinned_python_base(path: str) -> None:
    for image in base_images(path):
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), (path, image)


@pytest.mark.parametrize("path", ["Dockerfile.bot", "Dockerfile.runner"])
def test_multi_stage_and_nothing_left_over(path: str) -> None:
    assert len(base_images(path)) >= 2, "build in one stage, run in another"
    final = final_stage(path)
    for op, a in final:
        # Build inputs never become a layer of the final image (bind mounts are fine).
        assert not (op == "COPY" and "/wheels" in a), a
        assert not (op == "RUN" and re.search(r"\bapt-get install\b|\bgcc\b", a)), a


@pytest.mark.parametrize("path", DOCKERFILES)
def test_runs_as_the_chart_user(path: str) -> None:
    final = final_stage(path)
    (user,) = [a for op, a in final if op == "USER"]
    assert user.split(":")[0] == str(CHART_UID), f"{path} runs as {user}, the chart as {CHART_UID}"
    assert any(op == "RUN" and f"--uid {CHART_UID}" in a for op, a in final)


def test_the_chart_args_fit_the_bot_image() -> None:
    """Dockerfile.bot's entry point is `vidgen`, so the chart's args are subcommands."""
    (entry,) = [a for op, a in instructions("Dockerfile.bot") if op == "ENTRYPOINT"]
    assert json.loads(entry) == ["vidgen"]
    docs = render({"metabase": {"enabled": True}})
    assert container(docs, "Deployment", "vidgen-operator", "operator")["args"][0] == "operator"
    assert container(docs, "Deployment", "vidgen-bot", "bot")["args"] == ["bot"]
    init = one(docs, "Deployment", "vidgen-bot")["spec"]["template"]["spec"]["initContainers"][0]
    assert init["args"] == ["migrate"] and "command" not in init


def test_the_runner_image_has_what_the_provisioning_job_calls() -> None:
    """The Metabase Job runs `python` and `vidgen` from the runner image's virtualenv, with the
    analytics extra's dependency (httpx) inside the runner extra."""
    env = " ".join(a for op, a in final_stage("Dockerfile.runner") if op == "ENV")
    assert "PATH=/opt/vidgen/bin:" in env
    pyproject = (ROOT / "pyproject.toml").read_text()
    runner_extra = re.search(r"^runner = \[(.*?)\]", pyproject, re.S | re.M)
    analytics_extra = re.search(r"^analytics = \[(.*?)\]", pyproject, re.S | re.M)
    assert runner_extra and analytics_extra
    needed = {
        re.split(r"[<>=\[]", d.strip().strip('"'))[0]
        for d in analytics_extra.group(1).split(",")
        if d.strip()
    }
    present = {
        re.split(r"[<>=\[]", d.strip().strip('"'))[0] for d in runner_extra.group(1).split(",") if d.strip()
    }
    assert needed <= present, needed - present


def test_build_context_keeps_secrets_and_tests_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".env", ".venv", "tests"} <= ignored
    fake = (ROOT / "tests/e2e/Dockerfile.fake-telegram.dockerignore").read_text().splitlines()
    assert fake[[ln.strip() for ln in fake].index("*")] == "*"  # deny all, then let the fake in
    assert all(line.startswith("!tests/fakes/") for line in fake if line.startswith("!"))


def test_images_need_only_their_declared_paths() -> None:
    """Every path the Dockerfiles COPY from the context exists."""
    for path in DOCKERFILES:
        for op, a in instructions(path):
            if op == "COPY" and not a.startswith("--from"):
                for source in a.split()[:-1]:
                    assert (ROOT / source.rstrip("/")).exists(), (path, source)
