import json

from hypothesis import given
from hypothesis import strategies as st

from vidgen.core.errors import ErrorClass, Failure
from vidgen.core.result import EXIT_FINAL, EXIT_OK, EXIT_RETRYABLE, MAX_BYTES, RunnerResult, decode, encode


def test_success_round_trip() -> None:
    r = RunnerResult.success(
        video="outputs/a.mp4", bytes=123, duration=10.0, model="m", taskId="t", prompt="p"
    )
    line = encode(r)
    assert json.loads(line)["ok"] is True
    assert decode(line) == RunnerResult(
        ok=True, video="outputs/a.mp4", bytes=123, duration=10.0, model="m", taskId="t", prompt="p"
    )
    assert r.exit_code == EXIT_OK


def test_failure_round_trip_and_exit_codes() -> None:
    r = RunnerResult.failed(Failure(ErrorClass.USER_VIOLATION, "provider_501", "content policy"))
    data = json.loads(encode(r))
    assert data == {
        "ok": False,
        "class": "USER_VIOLATION",
        "code": "provider_501",
        "detail": "content policy",
        "rateLimitRetries": 0,
    }
    assert decode(encode(r)) == r
    assert r.exit_code == EXIT_FINAL
    assert RunnerResult.failed(Failure(ErrorClass.TEMPORARY, "x")).exit_code == EXIT_RETRYABLE


@given(st.text(max_size=20000), st.text(max_size=20000))
def test_encoded_line_fits_termination_message(detail: str, prompt: str) -> None:
    line = encode(
        RunnerResult(ok=False, error_class=ErrorClass.UNKNOWN, code="c", detail=detail, prompt=prompt)
    )
    assert len(line.encode()) <= MAX_BYTES
    assert "\n" not in line
    assert decode(line) is not None


def test_garbage_decodes_to_none() -> None:
    for text in (None, "", "hello", "[1,2]", '{"ok": "yes"}', '{"ok": true}'):
        assert decode(text) is None


def test_unknown_class_becomes_unknown_and_last_line_wins() -> None:
    text = 'log line\n{"ok": false, "class": "WEIRD", "code": "z"}\n'
    assert decode(text).error_class is ErrorClass.UNKNOWN
