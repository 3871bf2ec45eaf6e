"""`Executor` that runs each attempt as a `vidgen runner` subprocess (what a Job is in a cluster).

Per attempt (`<generation>-a<attempt>`, the Job's name) there are files in `local_runs_dir`:
`.result` (the runner's --termination-log: its one JSON result line), `.pid`, `.log` (its
output), `.exit` (the exit code, written when a child of ours ends) and `.resumes`.

- `start` is idempotent: an attempt that has a result, or a live process, is not started again.
- A runner is its own session (process group), so a Ctrl-C on the terminal reaches only the
  controller, which then decides: `shutdown` terminates the runners (SIGTERM, then SIGKILL after
  `local_stop_grace_seconds`) and forgets the "terminated" results it caused, so the next start
  resumes those attempts instead of counting them as failures.
- After a restart (or a crash of the controller) the attempts marked Running are re-attached:
  a runner still alive is adopted (watched by its pid until it ends); one that is gone without a
  result is run again as the same attempt, and the runner resumes its provider task from the
  checkpoint in storage — no second paid task. After `local_max_resumes` such restarts the
  attempt counts as lost (a TEMPORARY failure the reconciler retries or refunds).
- The runner gets its settings in VIDGEN_* variables built from the controller's settings
  (the same allow-list idea as the Job's Secret and env), never the Telegram token or database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from vidgen.core.lifecycle import JobOutcome, JobState
from vidgen.core.logging import get_logger
from vidgen.core.result import decode
from vidgen.core.runner_settings import runner_variables
from vidgen.core.settings import Settings
from vidgen.core.status import DEFAULT_ACCOUNT, Generation
from vidgen.operator.job_manifest import job_name, runner_args
from vidgen.operator.termination import process_outcome

log = get_logger(__name__)

#: Settings the runner reads (vidgen.runner): storage, providers, limits, sandbox, logging.
TERMINATED_CODE = "terminated"  # the runner's result when it was stopped by SIGTERM


def absolute_storage_url(url: str, base: Path) -> str:
    """`file://./data` → `file:///abs/data` (the runner runs in another folder)."""
    if not url.startswith("file://"):
        return url
    return "file://" + str((base / url.removeprefix("file://")).resolve())


def runner_environment(
    settings: Settings, inherited: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, str]:
    """The runner's environment: the inherited one without any VIDGEN_* variable, plus the
    runner's settings from `settings` (None values left out)."""
    base = {k: v for k, v in (inherited if inherited is not None else os.environ).items()}
    env = {k: v for k, v in base.items() if not k.upper().startswith("VIDGEN_")}
    storage = absolute_storage_url(str(settings.storage_url), cwd or Path.cwd())
    env.update(runner_variables(settings, secrets=True, storage_url=storage))
    return env


def process_alive(pid: int, marker: str) -> bool:
    """Whether `pid` is a live process whose command line contains `marker` (so a pid reused by
    another program does not count). Without /proc (not Linux) only the pid is checked."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has that pid now
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and marker.encode() in cmdline


class ProcessExecutor:
    def __init__(
        self,
        settings: Settings,
        *,
        on_exit: Callable[[str], None] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.settings = settings
        self.dir = Path(settings.local_runs_dir).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.on_exit = on_exit
        self.python = python
        self.env = runner_environment(settings)
        self._children: dict[str, asyncio.subprocess.Process] = {}
        self._waiters: dict[str, asyncio.Task[None]] = {}
        self._adopted: dict[str, int] = {}  # job → pid of a runner started by an earlier run
        self._stopping = False

    # --- files -------------------------------------------------------------------------------

    def path(self, job: str, kind: str) -> Path:
        return self.dir / f"{job}.{kind}"

    def _read(self, job: str, kind: str) -> str | None:
        try:
            return self.path(job, kind).read_text()
        except (FileNotFoundError, UnicodeDecodeError):
            return None

    def _pid(self, job: str) -> int | None:
        text = self._read(job, "pid")
        try:
            return int(text.strip()) if text else None
        except ValueError:
            return None

    def _unlink(self, job: str, *kinds: str) -> None:
        for kind in kinds:
            self.path(job, kind).unlink(missing_ok=True)

    def _alive(self, job: str, pid: int) -> bool:
        return process_alive(pid, str(self.path(job, "result")))

    # --- Executor ------------------------------------------------------------------------------

    async def start(self, gen: Generation, attempt: int) -> str:
        job: str = job_name(gen.name, attempt)
        if self._stopping:
            raise RuntimeError("the local controller is stopping")
        if job in self._children or job in self._adopted:
            return job
        if decode(self._read(job, "result")) is not None or self._read(job, "exit") is not None:
            log.info("the attempt already ran (a replayed start)", generation=gen.name, job=job)
            return job
        pid = self._pid(job)
        if pid is not None and self._alive(job, pid):
            self._adopt(gen.name, job, pid)
            return job
        await self._spawn(gen, attempt, job)
        return job

    async def outcome(self, gen: Generation) -> JobOutcome:
        job = gen.job_name
        if not job:
            return JobOutcome(JobState.MISSING)
        child = self._children.get(job)
        if child is not None:
            return process_outcome(child.returncode, self._read(job, "result"))
        result = decode(self._read(job, "result"))
        if result is not None:
            return JobOutcome(JobState.SUCCEEDED if result.ok else JobState.FAILED, result)
        exit_code = self._read(job, "exit")
        if exit_code is not None:  # ended without a result while we were away
            code = exit_code.strip()
            return process_outcome(int(code) if code.lstrip("-").isdigit() else 1, None)
        if job in self._adopted:
            return JobOutcome(JobState.ACTIVE)
        pid = self._pid(job)
        if pid is not None and self._alive(job, pid):
            self._adopt(gen.name, job, pid)
            return JobOutcome(JobState.ACTIVE)
        return await self._resume(gen, job)

    async def stop(self, gen: Generation) -> None:
        job = gen.job_name
        if job:
            await self._terminate([job])

    # --- processes -----------------------------------------------------------------------------

    def _env_for(self, account: str) -> dict[str, str]:
        """The runner's environment with the account's KIE.AI key (VIDGEN_KIE_ACCOUNT_KEYS)."""
        key = self.settings.kie_account_keys.get(account)
        if account == DEFAULT_ACCOUNT or key is None:
            return self.env
        return {**self.env, "VIDGEN_KIE_API_KEY": key.get_secret_value()}

    async def _spawn(self, gen: Generation, attempt: int, job: str) -> None:
        result = self.path(job, "result")
        self._unlink(job, "exit")
        args = [self.python, "-m", "vidgen.cli", *runner_args(gen.spec, attempt, str(result))]
        with self.path(job, "log").open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=self._env_for(gen.account),
                cwd=self.dir,
                start_new_session=True,  # Ctrl-C on the terminal is the controller's to handle
            )
        self.path(job, "pid").write_text(f"{proc.pid}\n")
        self._children[job] = proc
        self._waiters[job] = asyncio.create_task(self._wait(gen.name, job, proc), name=f"wait-{job}")
        log.info("runner started", generation=gen.name, job=job, pid=proc.pid, attempt=attempt)

    async def _wait(self, name: str, job: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self.path(job, "exit").write_text(f"{code}\n")
        log.info("runner ended", generation=name, job=job, exit_code=code)
        if not self._stopping and self.on_exit is not None:
            self.on_exit(name)

    def _adopt(self, name: str, job: str, pid: int) -> None:
        """Watch a runner left by an earlier run until it ends (it is not our child: no wait())."""
        self._adopted[job] = pid
        self._waiters[job] = asyncio.create_task(self._watch(name, job, pid), name=f"watch-{job}")
        log.info("runner of an earlier run adopted", generation=name, job=job, pid=pid)

    async def _watch(self, name: str, job: str, pid: int) -> None:
        # Not our child: no wait() and no exit event, so its pid is polled.
        while self._alive(job, pid):  # noqa: ASYNC110
            await asyncio.sleep(self.settings.local_process_poll_seconds)
        self._adopted.pop(job, None)
        log.info("adopted runner ended", generation=name, job=job)
        if not self._stopping and self.on_exit is not None:
            self.on_exit(name)

    async def _resume(self, gen: Generation, job: str) -> JobOutcome:
        """The attempt's runner is gone without a result (the controller was stopped or crashed):
        run the same attempt again, up to `local_max_resumes` times."""
        text = self._read(job, "resumes")
        resumes = int(text) if text and text.strip().isdigit() else 0
        if resumes >= self.settings.local_max_resumes or self._stopping:
            log.warning("attempt lost", generation=gen.name, job=job, resumes=resumes)
            return JobOutcome(JobState.MISSING)
        self.path(job, "resumes").write_text(f"{resumes + 1}\n")
        log.info("resuming an interrupted attempt", generation=gen.name, job=job, resume=resumes + 1)
        await self._spawn(gen, gen.attempts, job)
        return JobOutcome(JobState.ACTIVE)

    def _signal(self, job: str, sig: int) -> None:
        child = self._children.get(job)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if child is not None and child.returncode is None:
                os.killpg(child.pid, sig)  # its own process group: ffmpeg included
            elif job in self._adopted and self._alive(job, self._adopted[job]):
                os.killpg(self._adopted[job], sig)

    def _running(self, jobs: list[str]) -> list[str]:
        out = []
        for job in jobs:
            child = self._children.get(job)
            if child is not None and child.returncode is None:
                out.append(job)
            elif job in self._adopted and self._alive(job, self._adopted[job]):
                out.append(job)
        return out

    async def _terminate(self, jobs: list[str]) -> list[str]:
        """SIGTERM, then SIGKILL after the grace period; returns the jobs that were running.
        Each runner's waiter task (`_wait`, `_watch`) ends when its process has ended."""
        running = self._running(jobs)
        waiters = [self._waiters[job] for job in running if job in self._waiters]
        for job in running:
            self._signal(job, signal.SIGTERM)
        if waiters:
            await asyncio.wait(waiters, timeout=self.settings.local_stop_grace_seconds)
        for job in self._running(running):
            log.warning("runner did not stop in time; killed", job=job)
            self._signal(job, signal.SIGKILL)
        if waiters:
            await asyncio.wait(waiters, timeout=5)
        return running

    async def shutdown(self) -> list[str]:
        """Stop every runner (the controller is stopping). Their attempts are left Running and
        resume at the next start: a result the termination itself caused ("terminated", or none)
        is forgotten. Returns the interrupted attempts."""
        self._stopping = True
        jobs = list(self._children) + list(self._adopted)
        interrupted = []
        for job in await self._terminate(jobs):
            result = decode(self._read(job, "result"))
            if result is None or (not result.ok and result.code == TERMINATED_CODE):
                self._unlink(job, "result", "exit")
                interrupted.append(job)
        for task in self._waiters.values():
            task.cancel()
        await asyncio.gather(*self._waiters.values(), return_exceptions=True)
        return interrupted
