import subprocess
import sys
from pathlib import Path

import pytest

from vidgen.core.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults(monkeypatch) -> None:
    s = load_settings(_env_file=None)
    assert s.free_credits == 2 and s.credits_per_video == 1
    assert s.database_url.startswith("sqlite")
    assert s.provider_rate_limit == 20 and s.provider_rate_window_seconds == 10


def test_env_prefix_lists_and_secrets(monkeypatch) -> None:
    monkeypatch.setenv("VIDGEN_ADMIN_IDS", "1, 2,3")
    monkeypatch.setenv("VIDGEN_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("VIDGEN_MAX_CONCURRENCY", "4")
    s = load_settings(_env_file=None)
    assert s.admin_ids == [1, 2, 3]
    assert s.max_concurrency == 4
    assert "123:abc" not in repr(s)
    assert s.secret("telegram_token") == "123:abc"


def test_missing_required_setting_is_one_line() -> None:
    s = load_settings(_env_file=None)
    with pytest.raises(ConfigError, match=r"^missing setting VIDGEN_TELEGRAM_TOKEN$"):
        s.require("telegram_token")


def test_invalid_setting_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("VIDGEN_MAX_CONCURRENCY", "zero")
    with pytest.raises(ConfigError, match="VIDGEN_MAX_CONCURRENCY") as info:
        load_settings(_env_file=None)
    assert "\n" not in str(info.value)


def test_cli_reports_missing_setting_without_a_trace(tmp_path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from vidgen.cli import main; sys.argv=['vidgen','migrate']; main()",
        ],
        env={"VIDGEN_MAX_CONCURRENCY": "x", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "vidgen: invalid setting VIDGEN_MAX_CONCURRENCY: Input should be a valid integer, unable to parse string as an integer"
    )


def test_stdlib_operator_is_not_shadowed() -> None:
    # operator/ has no __init__.py, so `python -m …` and `import operator` from the checkout's
    # root still get the standard library's module
    assert not (ROOT / "operator" / "__init__.py").exists()
    code = "import operator, vidgen.operator; assert operator.add(1, 2) == 3; print(vidgen.operator.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "vidgen.operator"
    proc = subprocess.run(
        [sys.executable, "-m", "vidgen.cli", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
