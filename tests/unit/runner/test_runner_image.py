"""Dockerfile.runner, checked statically (no Docker engine here), and the property it relies on:
the runner works with nothing but the core dependencies and the `runner` extra."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile.runner"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(ins)
    return found


def build_args() -> dict[str, str]:
    return dict(a.split("=", 1) for op, a in instructions() if op == "ARG" and "=" in a)


def test_multi_stage_on_a_pinned_python_311_slim_base() -> None:
    froms = [args for op, args in instructions() if op == "FROM"]
    assert len(froms) >= 2
    for args in froms:
        image = args.split()[0]
        image = build_args().get(image.strip("${}"), image) if image.startswith("$") else image
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), image
    assert froms[-1].split()[-1] == "runtime" and froms[0].split()[-1] == "build"


def test_final_stage_runs_as_a_non_root_user() -> None:
    final = stages()[-1]
    users = [args.split(":")[0] for op, args in final if op == "USER"]
    assert users, "the runtime stage sets no USER"
    for user in users:  # none of them (the last one included) is root
        assert user not in ("root", "0") and (not user.isdigit() or int(user) >= 1000)
    assert any(op == "RUN" and "useradd" in args and f"--uid {users[-1]}" in args for op, args in final)
    assert [op for op, _ in final][-2:] == ["USER", "ENTRYPOINT"]


def test_installs_only_the_runner_extra() -> None:
    installs = [args for op, args in instructions() if op == "RUN" and "pip install" in args]
    # The dependencies (core + runner, read from pyproject.toml) first, then vidgen[runner].
    assert len(installs) == 2
    assert "['dependencies'] + p['optional-dependencies']['runner']" in installs[0]
    assert "bot" not in installs[0] and "operator" not in installs[0]
    extras = re.findall(r"\.\[([^\]]*)\]", installs[1])
    assert extras == ["runner"]
    runtime_copies = [args for op, args in stages()[-1] if op == "COPY"]
    assert runtime_copies == ["--from=build /opt/vidgen /opt/vidgen"]  # the venv, no sources, no build tools


def test_entrypoint_is_vidgen_runner_in_exec_form() -> None:
    (entry,) = [args for op, args in instructions() if op == "ENTRYPOINT"]
    assert json.loads(entry) == ["vidgen", "runner"]
    assert not [args for op, args in instructions() if op == "CMD"]


def test_build_copies_every_folder_setup_py_maps() -> None:
    tree = ast.parse((ROOT / "setup.py").read_text())
    parts = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PARTS"
    )
    copied = {args.split()[0].rstrip("/") for op, args in stages()[0] if op == "COPY"}
    copied |= {p for op, args in stages()[0] if op == "COPY" for p in args.split()[:-1]}
    assert {*parts, "vidgen"} <= copied
    assert {"pyproject.toml", "setup.py", "README.md"} <= copied
    for path in copied:
        assert (ROOT / path).exists(), path


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".env", "tests", "**/__pycache__"} <= ignored
    copied = {args.split()[0].rstrip("/") for op, args in stages()[0] if op == "COPY"}
    assert not copied & ignored


# --- the runner needs nothing beyond core + [runner] ---------------------------------------


def allowed_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["runner"]
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}


def test_runner_modules_import_only_core_and_runner_dependencies() -> None:
    dists = importlib.metadata.packages_distributions()
    allowed = allowed_distributions()
    for path in sorted((ROOT / "runner").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names:
                    continue
                if top == "vidgen":
                    assert name.startswith(("vidgen.core", "vidgen.storage", "vidgen.runner")), (path, name)
                    assert not name.startswith("vidgen.core.db"), f"{path.name}: the runner has no database"
                    continue
                owners = {d.lower().replace("_", "-") for d in dists.get(top, [])}
                assert owners & allowed, (
                    f"{path.name} imports {name} (from {owners}), not in core or [runner]"
                )


BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
from vidgen.cli import main
main(sys.argv[1:])
"""


def test_vidgen_runner_works_without_the_other_extras(tmp_path: Path) -> None:
    """As in the image: bot/operator/dev packages absent, a sandbox generation still runs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    others = set()
    for extra in ("bot", "operator", "dev"):
        others |= {
            re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in project["optional-dependencies"][extra]
        }
    others -= {d for d in allowed_distributions()} | {"vidgen"}
    blocked = set()
    dists = importlib.metadata.packages_distributions()
    for top, owners in dists.items():
        if {o.lower().replace("_", "-") for o in owners} & {o.lower() for o in others}:
            blocked.add(top)
    blocked -= set(sys.stdlib_module_names)
    assert {"aiogram", "kopf", "aiohttp"} <= blocked

    from PIL import Image

    data = tmp_path / "data"
    (data / "inputs").mkdir(parents=True)
    Image.new("RGB", (160, 120), (30, 120, 200)).save(data / "inputs" / "vg-1-x.jpg", "JPEG")
    log = tmp_path / "result"
    env = {
        "PATH": "/usr/bin:/bin",
        "VIDGEN_STORAGE_URL": f"file://{data}",
        "VIDGEN_SANDBOX_SHORT_SIDE": "64",
        "VIDGEN_SANDBOX_FPS": "4",
        "VIDGEN_SANDBOX_MAX_SECONDS": "1",
        "VIDGEN_KIE_POLL_INTERVAL_SECONDS": "0.05",
    }
    args = ["runner", "--name", "vg-1-x", "--photo", "inputs/vg-1-x.jpg", "--termination-log", str(log)]
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER.format(blocked=sorted(blocked)), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(log.read_text())["ok"] is True
    assert (data / "outputs" / "vg-1-x.mp4").stat().st_size > 0


def test_builds_offline_without_buildkit_only_features() -> None:
    """No `# syntax` frontend (BuildKit would pull it from Docker Hub) and no `RUN --mount`
    (the legacy builder has none): the image builds with any builder, from any base."""
    for dockerfile in (DOCKERFILE, ROOT / "Dockerfile.bot"):
        text = dockerfile.read_text()
        assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE), dockerfile.name
        assert not re.search(r"^RUN\s+--mount", text, re.MULTILINE), dockerfile.name
        assert "ARG PYTHON_IMAGE=" in text  # the base is a build argument


CLI_HELP = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
import importlib.util
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in BLOCKED else real(name, *a)
from vidgen.cli import build_parser
print(" ".join(sorted(build_parser()._subparsers._group_actions[0].choices)))
"""


def test_the_runner_image_cli_offers_only_what_it_can_run() -> None:
    """Without the bot and operator extras (as in the runner image), `vidgen` lists no
    `operator`, `bot` or `local` command (they would crash there with a traceback)."""
    blocked = ["aiogram", "kopf", "kubernetes", "prometheus_client", "redis", "aiolimiter", "fastapi"]
    proc = subprocess.run(
        [sys.executable, "-c", CLI_HELP.format(blocked=blocked)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["analytics", "migrate", "runner"]
