"""A fake KIE.AI server: real HTTP on 127.0.0.1, an ephemeral port. One server answers both the
API (`kie_base_url`) and the upload service (`kie_upload_url`): give `.url` to both.

Endpoints (field names as in shared/reference/kie-ai.md):
- `POST /api/file-stream-upload` (multipart), `/api/file-base64-upload`, `/api/file-url-upload`
  → `data.downloadUrl`; uploaded files are served back at `GET /files/{id}/{name}`;
- `POST /api/v1/jobs/createTask` and `POST /api/v1/veo/generate` → `data.taskId`;
- `GET /api/v1/jobs/recordInfo?taskId=` (`state`, `resultJson` as a JSON string, `failCode`,
  `failMsg`) and `GET /api/v1/veo/record-info?taskId=` (`successFlag`, `response.resultUrls`);
- `GET /videos/{taskId}.mp4`: the finished video (a real, tiny H.264 MP4);
- `GET /api/v1/chat/credit`: credits left.

Behaviour and fault injection:
- `Authorization: Bearer <api_key>` is checked (401 otherwise);
- at most `rate_limit` task creations per `rate_window` seconds; more are refused with code 429
  and not kept (like KIE.AI);
- `credits` (None = unlimited): each task costs one; at 0 → code 402;
- `generation_seconds`: how long a task stays waiting/generating (read at every poll, so a test
  can change it while a task runs);
- `fail(endpoint, times, code, msg, http_status=200)`: the next `times` calls of an endpoint
  ("upload", "createTask", "recordInfo", "download") answer with that body code (KIE.AI sends
  many errors with HTTP 200; pass http_status=500 for a real HTTP error);
- `fail_next_tasks(times, fail_msg, fail_code)`: the next tasks created end in state `fail`;
- `latency[endpoint] = seconds`: answers are delayed (longer than the client's timeout = a
  timeout);
- `video_content_type`, `video`: what the download serves;
- `fetch_images=True`: task creation GETs every image URL (as KIE.AI does) and refuses the task
  with code 422 when one cannot be fetched; the fetched bytes are kept in `fetched_images`;
- every request is recorded in `requests`; `create_calls` counts the creation requests received
  (accepted or not), `polls(task_id)` the status reads.

Use from a test:
    async with FakeKie(generation_seconds=0.2) as kie:
        settings = load_settings(kie_api_key=kie.api_key, kie_base_url=kie.url, kie_upload_url=kie.url)
"""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import json
import subprocess
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import ClientError, ClientSession, web

from tests.fakes.loopback import LoopbackServer

API_KEY = "kie-test-key"
MODELS = {"sora-2-image-to-video", "sora-2-text-to-video", "veo3_fast", "veo3"}
ENDPOINTS = ("upload", "createTask", "recordInfo", "download", "credit")


@functools.lru_cache(maxsize=8)
def sample_video(seconds: float = 1.0, size: tuple[int, int] = (96, 160), fps: int = 12) -> bytes:
    """A real H.264 MP4 (ffmpeg's test pattern), made once per process and shape."""
    import imageio_ffmpeg

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sample.mp4"
        args = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size[0]}x{size[1]}:rate={fps}",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out),
        ]  # fmt: skip
        subprocess.run(args, check=True, capture_output=True)
        return out.read_bytes()


@dataclass
class Request:
    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    remaining: int
    code: int
    msg: str
    http_status: int = 200


@dataclass
class Task:
    task_id: str
    model: str
    kind: str  # "jobs" or "veo"
    params: dict[str, Any]
    created: float
    fail: tuple[str, str] | None = None  # (failCode, failMsg)
    polls: int = 0


class FakeKie(LoopbackServer):
    client_max_size = 50 * 1024 * 1024

    def __init__(
        self,
        api_key: str = API_KEY,
        *,
        rate_limit: int = 20,
        rate_window: float = 10.0,
        generation_seconds: float = 0.0,
        credits: int | None = None,
        video: bytes | None = None,
        fetch_images: bool = False,
    ) -> None:
        self.api_key = api_key
        self.fetch_images = fetch_images
        self.fetched_images: dict[str, bytes] = {}
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.generation_seconds = generation_seconds
        self.credits = credits
        self.video = video
        self.video_content_type = "video/mp4"
        self.requests: list[Request] = []
        self.tasks: dict[str, Task] = {}
        self.uploads: dict[str, bytes] = {}
        self.latency: dict[str, float] = {}
        self.faults: dict[str, list[Fault]] = {}
        self._task_failures: list[tuple[int, str, str]] = []
        self._creations: deque[float] = deque()
        self._ids = itertools.count(1)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> Self:
        if self.video is None:
            self.video = await asyncio.to_thread(sample_video)
        return await super().start()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/file-stream-upload", self._upload_stream)
        app.router.add_post("/api/file-base64-upload", self._upload_base64)
        app.router.add_post("/api/file-url-upload", self._upload_url)
        app.router.add_get("/files/{id}/{name}", self._file)
        app.router.add_post("/api/v1/jobs/createTask", self._create_jobs)
        app.router.add_get("/api/v1/jobs/recordInfo", self._record_info)
        app.router.add_post("/api/v1/veo/generate", self._create_veo)
        app.router.add_get("/api/v1/veo/record-info", self._veo_record_info)
        app.router.add_get("/api/v1/chat/credit", self._credit)
        app.router.add_get("/videos/{task}.mp4", self._video)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- control --------------------------------------------------------------------------

    def fail(
        self, endpoint: str, times: int = 1, code: int = 500, msg: str | None = None, http_status: int = 200
    ) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {ENDPOINTS}")
        self.faults.setdefault(endpoint, []).append(Fault(times, code, msg or f"error {code}", http_status))

    def fail_next_tasks(
        self, times: int = 1, fail_msg: str = "internal error", fail_code: str = "500"
    ) -> None:
        self._task_failures.append((times, fail_code, fail_msg))

    @property
    def create_calls(self) -> int:
        return sum(1 for r in self.requests if r.endpoint == "createTask")

    def calls(self, endpoint: str) -> list[Request]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def polls(self, task_id: str | None = None) -> int:
        if task_id is None:
            return sum(t.polls for t in self.tasks.values())
        return self.tasks[task_id].polls

    # --- plumbing -------------------------------------------------------------------------

    @staticmethod
    def answer(
        code: int = 200, msg: str = "success", data: Any = None, http_status: int = 200
    ) -> web.Response:
        return web.json_response({"code": code, "msg": msg, "data": data}, status=http_status)

    async def _enter(self, request: web.Request, endpoint: str, body: Any = None) -> web.Response | None:
        """Record, delay, authenticate and inject faults; a Response means: answer that."""
        self.requests.append(
            Request(request.method, request.path, endpoint, dict(request.query), body, dict(request.headers))
        )
        delay = self.latency.get(endpoint, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if endpoint != "download" and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.answer(401, "You do not have access permissions", http_status=401)
        queue = self.faults.get(endpoint) or []
        while queue and queue[0].remaining <= 0:
            queue.pop(0)
        if queue:
            fault = queue[0]
            fault.remaining -= 1
            return self.answer(fault.code, fault.msg, http_status=fault.http_status)
        return None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}{int(time.time() * 1000) % 100000:05d}"

    # --- upload ---------------------------------------------------------------------------

    def _stored(self, data: bytes, name: str) -> web.Response:
        file_id = self._new_id("f")
        self.uploads[file_id] = data
        return self.answer(
            200,
            "File uploaded successfully",
            {
                "fileName": name,
                "filePath": f"vidgen/{name}",
                "downloadUrl": f"{self.url}/files/{file_id}/{name}",
                "fileSize": len(data),
                "uploadedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    async def _upload_stream(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        fields = {k: str(v) for k, v in form.items() if k != "file"}
        early = await self._enter(request, "upload", fields)
        if early is not None:
            return early
        if not isinstance(upload, web.FileField):
            return self.answer(400, "file is required", http_status=400)
        if not fields.get("uploadPath"):
            return self.answer(400, "uploadPath is required", http_status=400)
        data = upload.file.read()
        return self._stored(data, fields.get("fileName") or upload.filename or "file")

    async def _upload_base64(self, request: web.Request) -> web.Response:
        body = await request.json()
        early = await self._enter(request, "upload", {k: v for k, v in body.items() if k != "base64Data"})
        if early is not None:
            return early
        raw = str(body.get("base64Data") or "")
        data = base64.b64decode(raw.split(",", 1)[-1])
        return self._stored(data, str(body.get("fileName") or "file"))

    async def _upload_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        early = await self._enter(request, "upload", body)
        if early is not None:
            return early
        return self._stored(b"", str(body.get("fileName") or "file"))

    async def _file(self, request: web.Request) -> web.Response:
        data = self.uploads.get(request.match_info["id"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="application/octet-stream")

    # --- tasks ----------------------------------------------------------------------------

    async def _fetch(self, urls: list[str]) -> str | None:
        """Fetch the task's images like KIE.AI does; a problem description, or None."""
        if not self.fetch_images:
            return None
        async with ClientSession() as session:
            for url in urls:
                try:
                    async with session.get(url) as resp:
                        if resp.status != 200:
                            return f"image_urls could not be downloaded (HTTP {resp.status})"
                        self.fetched_images[url] = await resp.read()
                except (ClientError, ValueError) as exc:
                    return f"image_urls could not be downloaded ({type(exc).__name__})"
        return None

    def _admit(self) -> web.Response | None:
        now = time.monotonic()
        while self._creations and now - self._creations[0] >= self.rate_window:
            self._creations.popleft()
        if len(self._creations) >= self.rate_limit:
            return self.answer(429, "Rate limited: too many requests, please slow down")
        if self.credits is not None and self.credits < 1:
            return self.answer(402, "Insufficient credits")
        self._creations.append(now)
        if self.credits is not None:
            self.credits -= 1
        return None

    def _new_task(self, model: str, kind: str, params: dict[str, Any]) -> Task:
        fail = None
        while self._task_failures and self._task_failures[0][0] <= 0:
            self._task_failures.pop(0)
        if self._task_failures:
            times, fail_code, fail_msg = self._task_failures[0]
            self._task_failures[0] = (times - 1, fail_code, fail_msg)
            fail = (fail_code, fail_msg)
        task = Task(
            self._new_id("task_" if kind == "jobs" else "veo_"), model, kind, params, time.monotonic(), fail
        )
        self.tasks[task.task_id] = task
        return task

    async def _create_jobs(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        early = await self._enter(request, "createTask", body)
        if early is not None:
            return early
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            return self.answer(422, "Validation failed: input is required")
        model, inp = body.get("model"), body["input"]
        problems = []
        if model not in MODELS:
            problems.append(f"unknown model {model!r}")
        if not inp.get("prompt") or len(str(inp["prompt"])) > 10000:
            problems.append("prompt is required (at most 10000 characters)")
        if model != "sora-2-text-to-video" and not (
            isinstance(inp.get("image_urls"), list) and inp["image_urls"]
        ):
            problems.append("image_urls is required")
        if inp.get("aspect_ratio", "landscape") not in ("portrait", "landscape"):
            problems.append("aspect_ratio must be portrait or landscape")
        if str(inp.get("n_frames", "10")) not in ("10", "15"):
            problems.append("n_frames must be 10 or 15")
        if problems:
            return self.answer(422, "Validation failed: " + "; ".join(problems))
        problem = await self._fetch(list(inp.get("image_urls") or []))
        if problem:
            return self.answer(422, problem)
        refused = self._admit()
        if refused is not None:
            return refused
        task = self._new_task(str(model), "jobs", body)
        return self.answer(200, "success", {"taskId": task.task_id})

    async def _create_veo(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        early = await self._enter(request, "createTask", body)
        if early is not None:
            return early
        if not isinstance(body, dict) or not body.get("prompt"):
            return self.answer(422, "Validation failed: prompt is required")
        if body.get("model", "veo3_fast") not in ("veo3", "veo3_fast"):
            return self.answer(422, f"Validation failed: unknown model {body.get('model')!r}")
        if body.get("aspectRatio", "16:9") not in ("16:9", "9:16", "Auto"):
            return self.answer(422, "Ratio error")
        problem = await self._fetch(list(body.get("imageUrls") or []))
        if problem:
            return self.answer(422, problem)
        refused = self._admit()
        if refused is not None:
            return refused
        task = self._new_task(str(body.get("model", "veo3_fast")), "veo", body)
        return self.answer(200, "success", {"taskId": task.task_id})

    def _progress(self, task: Task) -> str:
        elapsed = time.monotonic() - task.created
        if elapsed >= self.generation_seconds:
            return "fail" if task.fail else "success"
        return "waiting" if elapsed < self.generation_seconds * 0.1 else "generating"

    async def _lookup(self, request: web.Request) -> Task | web.Response:
        early = await self._enter(request, "recordInfo")
        if early is not None:
            return early
        task = self.tasks.get(request.query.get("taskId", ""))
        if task is None:
            return self.answer(404, "Task not found")
        task.polls += 1
        return task

    def video_url(self, task: Task) -> str:
        return f"{self.url}/videos/{task.task_id}.mp4"

    async def _record_info(self, request: web.Request) -> web.Response:
        task = await self._lookup(request)
        if isinstance(task, web.Response):
            return task
        state = self._progress(task)
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "model": task.model,
            "state": state,
            "param": json.dumps(task.params),
            "resultJson": "",
            "failCode": "",
            "failMsg": "",
            "costTime": None,
            "createTime": int(task.created * 1000),
            "completeTime": None,
            "updateTime": int(time.time() * 1000),
        }
        if state == "success":
            data["resultJson"] = json.dumps({"resultUrls": [self.video_url(task)]})
        elif state == "fail" and task.fail:
            data["failCode"], data["failMsg"] = task.fail
        return self.answer(200, "success", data)

    async def _veo_record_info(self, request: web.Request) -> web.Response:
        task = await self._lookup(request)
        if isinstance(task, web.Response):
            return task
        state = self._progress(task)
        flag = {"success": 1, "fail": 3}.get(state, 0)
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "paramJson": json.dumps(task.params),
            "successFlag": flag,
            "response": {"taskId": task.task_id, "resultUrls": [self.video_url(task)]} if flag == 1 else None,
            "errorCode": int(task.fail[0]) if flag == 3 and task.fail and task.fail[0].isdigit() else None,
            "errorMessage": task.fail[1] if flag == 3 and task.fail else None,
        }
        return self.answer(200, "success", data)

    async def _credit(self, request: web.Request) -> web.Response:
        early = await self._enter(request, "credit")
        if early is not None:
            return early
        return self.answer(200, "success", self.credits if self.credits is not None else 100000)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        early = await self._enter(request, "download")
        if early is not None:
            return early
        task = self.tasks.get(request.match_info["task"])
        if task is None or self._progress(task) != "success":
            raise web.HTTPNotFound()
        assert self.video is not None
        return web.Response(body=self.video, headers={"Content-Type": self.video_content_type})
