"""`vidgen runner`: one attempt of one generation, as a Kubernetes Job (or a local-mode
subprocess) runs it. Writes one JSON result line to the termination-message path and exits
0 (video stored, or task submitted), 1 (retryable failure) or 2 (final failure).

    vidgen runner --name N --photo KEY …            the whole attempt (create, poll, store)
    vidgen runner submit --name N --photo KEY …     create the task; a `submitted` line
        [--callback-url URL]                        (KIE.AI POSTs the result there)
    vidgen runner collect --name N --task-id T …    store the video of a finished task
                                                    (code task_pending while it runs)"""

from __future__ import annotations

import argparse
from typing import Any

from vidgen.core.catalogue import DEFAULT_MODEL, MODELS


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "runner",
        help="make one video: photo → prompt → provider → stored MP4 (a Job runs this)",
        description=__doc__,
    )
    parser.add_argument(
        "stage",
        nargs="?",
        choices=("submit", "collect"),
        default=None,
        help="submit (create the task) or collect (store its video); none: the whole attempt",
    )
    parser.add_argument("--name", required=True, help="the VideoGeneration's name")
    parser.add_argument("--photo", default="", help="storage key of the user's photo")
    parser.add_argument("--task-id", default="", help="collect: the provider's task id (from submit)")
    parser.add_argument("--callback-url", default="", help="submit: KIE.AI's callBackUrl for this task")
    parser.add_argument("--prompt", default="", help="the user's wish (may be empty)")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"a catalogue model (default {DEFAULT_MODEL}): {', '.join(MODELS)}",
    )
    # free-form on purpose: a bad value must become a result line, not an argparse exit
    parser.add_argument("--aspect-ratio", default="portrait", help="portrait or landscape")
    parser.add_argument("--duration", default="10", help="seconds (the model's allowed values)")
    parser.add_argument("--resolution", default="", help="the model's resolution (default: its first)")
    parser.add_argument("--attempt", default="1", help="attempt number, from 1")
    parser.add_argument(
        "--termination-log",
        default=None,
        help="where the result line goes (default VIDGEN_TERMINATION_LOG_PATH, /dev/termination-log)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import sys

    from vidgen.core.errors import ErrorClass, Failure
    from vidgen.core.logging import configure_logging
    from vidgen.core.models import photo_key
    from vidgen.core.result import RunnerResult
    from vidgen.core.settings import ConfigError, load_settings
    from vidgen.storage import open_storage

    from .pipeline import RunRequest, run_generation
    from .stages import collect_task, submit_task
    from .termination import write_result

    default_log = "/dev/termination-log"
    try:
        settings = load_settings()
        default_log = settings.termination_log_path
        storage = open_storage(settings)
    except ConfigError as exc:
        print(f"vidgen: {exc}", file=sys.stderr)
        result = RunnerResult.failed(Failure(ErrorClass.BILLING, "config", str(exc)))
        write_result(result, args.termination_log or default_log)
        return int(result.exit_code)
    log_path = args.termination_log or default_log
    configure_logging(settings.log_format, settings.log_level)

    numbers: dict[str, int] = {}
    for field, code in (("duration", "bad_duration"), ("attempt", "bad_attempt")):
        try:
            numbers[field] = int(str(getattr(args, field)).strip())
        except ValueError:
            result = RunnerResult.failed(
                Failure(ErrorClass.USER_VIOLATION, code, f"{getattr(args, field)!r} is not a whole number")
            )
            write_result(result, log_path)
            return int(result.exit_code)

    request = RunRequest(
        name=args.name,
        # collect needs no photo from the command line; the whole attempt and submit check it
        photo=args.photo or ("" if args.stage != "collect" else photo_key(args.name)),
        prompt=args.prompt,
        model=args.model,
        aspect_ratio=args.aspect_ratio,
        duration_seconds=numbers["duration"],
        attempt=numbers["attempt"],
        resolution=args.resolution.strip(),
        callback_url=args.callback_url.strip() or None,
    )

    async def main() -> RunnerResult:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:  # SIGTERM (pod deletion, deadline): stop cleanly, say so
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            if args.stage == "submit":
                return await submit_task(request, settings, storage)
            if args.stage == "collect":
                return await collect_task(request, args.task_id, settings, storage)
            return await run_generation(request, settings, storage)
        except asyncio.CancelledError:
            return RunnerResult.failed(
                Failure(ErrorClass.TEMPORARY, "terminated", "the runner was stopped (SIGTERM)")
            )

    result = asyncio.run(main())
    write_result(result, log_path)
    return int(result.exit_code)
