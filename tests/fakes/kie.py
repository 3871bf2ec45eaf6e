"""A fake KIE.AI server: real HTTP on 127.0.0.1, an ephemeral port. One server answers both the
API (`kie_base_url`) and the upload service (`kie_upload_url`): give `.url` to both.

Endpoints (field names as in shared/reference/kie-ai.md):
- `POST /api/file-stream-upload` (multipart), `/api/file-base64-upload`, `/api/file-url-upload`
  → `data.downloadUrl`; uploaded files are served back at `GET /files/{id}/{name}`;
- the three API families, each with its own create body and status schema:
  `POST /api/v1/jobs/createTask` + `GET /api/v1/jobs/recordInfo?taskId=` (`state`, `resultJson`
  as a JSON string, `failCode`, `failMsg`); `POST /api/v1/veo/generate` +
  `GET /api/v1/veo/record-info` (`successFlag`, `response.resultUrls`); `POST
  /api/v1/runway/generate` + `GET /api/v1/runway/record-detail` (`state`, `videoInfo.videoUrl`,
  `expireFlag`). Every model's fields are checked against JOBS_INPUTS / the Veo and Runway rules
  and the catalogue's durations and resolutions: a missing, unknown or misspelt field is a 422
  (so a test proves an adapter sends the right spelling);
- `GET /videos/{taskId}.mp4?token=`: the finished video (a real, tiny H.264 MP4) at a result
  URL that can expire (below); `POST /api/v1/common/download-url {"url"}` → a fresh URL;
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
- expiring result URLs: `url_max_downloads` (each URL serves that many downloads) and
  `url_ttl_seconds` (on the fake's `clock`, settable: `kie.clock = lambda: t`) — past either a
  URL answers `expired_status` (403 by default); `fresh_urls=False` makes recordInfo repeat the
  first URL it gave (so only download-url helps); `dead_urls = N`: the next N URLs issued are
  dead from the start (count-based);
- callbacks: `webhook_key` signs (`X-Webhook-Timestamp`, `X-Webhook-Signature`);
  `callback_for(task_id)` is the body and headers KIE.AI would POST, `deliver_callback(task_id)`
  POSTs it to the task's `callBackUrl`;
- every request is recorded in `requests` (with `at` on the fake's clock); `create_calls` counts
  the creation requests received (accepted or not), `polls(task_id)` the status reads,
  `status_rate_peak(window)` the most status requests in any window of that many seconds.

Use from a test:
    async with FakeKie(generation_seconds=0.2) as kie:
        settings = load_settings(kie_api_key=kie.api_key, kie_base_url=kie.url, kie_upload_url=kie.url)
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
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
from vidgen.core.catalogue import ALL_MODELS, JOBS, RUNWAY, VEO

API_KEY = "kie-test-key"
WEBHOOK_KEY = "kie-webhook-key"
ENDPOINTS = ("upload", "createTask", "recordInfo", "download", "credit", "downloadUrl")


@dataclass(frozen=True)
class InputRule:
    """One jobs-API model's `input`: its image field (a list or one URL), its length field and
    values, its optional extra fields, and where its resolution goes."""

    image: str
    image_is_list: bool = True
    length: str = "duration"
    resolution: str | None = None
    aspect: tuple[str, ...] | None = None
    optional: frozenset[str] = frozenset()


def _values(model: str) -> tuple[set[str], set[str]]:
    info = ALL_MODELS[model]
    return {str(d) for d in info.durations}, {r for r in info.resolutions if r}


#: the jobs-API models the fake knows (shared/reference/kie-ai.md), read with the catalogue
JOBS_INPUTS: dict[str, InputRule] = {
    "sora-2-image-to-video": InputRule(
        "image_urls", length="n_frames", aspect=("portrait", "landscape"),
        optional=frozenset({"remove_watermark", "progressCallBackUrl"}),
    ),
    "sora-2-pro-image-to-video": InputRule(
        "image_urls", length="n_frames", resolution="size", aspect=("portrait", "landscape"),
        optional=frozenset({"remove_watermark", "progressCallBackUrl"}),
    ),
    "kling-2.6/image-to-video": InputRule("image_urls", optional=frozenset({"sound"})),
    "wan/2-6-image-to-video": InputRule("image_urls", resolution="resolution"),
    "hailuo/2-3-image-to-video-pro": InputRule("image_url", image_is_list=False, resolution="resolution"),
    "bytedance/seedance-1.5-pro": InputRule(
        "input_urls", resolution="resolution", aspect=("1:1", "21:9", "4:3", "3:4", "16:9", "9:16"),
        optional=frozenset({"generate_audio", "fixed_lens"}),
    ),
}  # fmt: skip
VEO_FIELDS = frozenset(
    {"prompt", "imageUrls", "model", "generationType", "aspect_ratio", "seeds", "enableTranslation",
     "watermark", "callBackUrl", "enableFallback"}
)  # fmt: skip
RUNWAY_FIELDS = frozenset(
    {"prompt", "imageUrl", "duration", "quality", "aspectRatio", "waterMark", "callBackUrl"}
)


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
    kind: str  # "jobs", "veo" or "runway"
    params: dict[str, Any]
    created: float
    fail: tuple[str, str] | None = None  # (failCode, failMsg)
    polls: int = 0
    first_url: str | None = None  # the first result URL recordInfo gave (fresh_urls=False repeats it)


@dataclass
class ResultUrl:
    task_id: str
    issued: float
    downloads: int = 0
    dead: bool = False


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
        webhook_key: str | None = WEBHOOK_KEY,
    ) -> None:
        self.api_key = api_key
        self.webhook_key = webhook_key
        #: the fake's time (task progress, URL expiry, request times); settable by a test
        self.clock: Any = time.monotonic
        self.url_max_downloads: int | None = None
        self.url_ttl_seconds: float | None = None
        self.expired_status = 403
        self.fresh_urls = True
        #: the next this-many result URLs issued are dead from the start (count-based expiry)
        self.dead_urls = 0
        self.result_urls: dict[str, ResultUrl] = {}
        self.expired_downloads = 0
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
        app.router.add_post("/api/v1/runway/generate", self._create_runway)
        app.router.add_get("/api/v1/runway/record-detail", self._runway_record_detail)
        app.router.add_post("/api/v1/common/download-url", self._download_url)
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

    def status_rate_peak(self, window: float = 1.0) -> int:
        """The most status requests (recordInfo of any family) in any `window` seconds."""
        times = sorted(r.at for r in self.requests if r.endpoint == "recordInfo")
        peak, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            peak = max(peak, hi - lo + 1)
        return peak

    # --- callbacks ------------------------------------------------------------------------

    def sign(self, task_id: str, timestamp: str, key: str | None = None) -> str:
        """KIE.AI's webhook signature: base64(HMAC-SHA256(taskId + "." + timestamp, key))."""
        secret = (key or self.webhook_key or "").encode()
        digest = hmac.new(secret, f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def callback_for(self, task_id: str, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """The headers and body KIE.AI would POST to the task's callBackUrl now."""
        task = self.tasks[task_id]
        state = self._progress(task)
        code = {"success": 200, "fail": 501}.get(state, 200)
        data = self._record(task, state) if task.kind == JOBS else {"taskId": task_id}
        if task.kind == VEO and state == "success":
            data["info"] = {"resultUrls": [self.issue_url(task)]}
        if task.kind == RUNWAY:
            data = self._runway_record(task, state)
        msg = "success" if code == 200 else (task.fail[1] if task.fail else "failed")
        body = json.dumps({"code": code, "msg": msg, "data": data}).encode()
        headers = {"Content-Type": "application/json"}
        if self.webhook_key:
            ts = str(int(time.time()) if timestamp is None else timestamp)
            headers["X-Webhook-Timestamp"] = ts
            headers["X-Webhook-Signature"] = self.sign(task_id, ts)
        return headers, body

    async def deliver_callback(self, task_id: str) -> int:
        """POST the callback to the task's callBackUrl; the HTTP status it got."""
        task = self.tasks[task_id]
        url = task.params.get("callBackUrl")
        if not url:
            raise ValueError(f"task {task_id} has no callBackUrl")
        headers, body = self.callback_for(task_id)
        async with ClientSession() as session, session.post(url, data=body, headers=headers) as resp:
            return resp.status

    # --- plumbing -------------------------------------------------------------------------

    @staticmethod
    def answer(
        code: int = 200, msg: str = "success", data: Any = None, http_status: int = 200
    ) -> web.Response:
        return web.json_response({"code": code, "msg": msg, "data": data}, status=http_status)

    async def _enter(self, request: web.Request, endpoint: str, body: Any = None) -> web.Response | None:
        """Record, delay, authenticate and inject faults; a Response means: answer that."""
        self.requests.append(
            Request(
                request.method, request.path, endpoint, dict(request.query), body, dict(request.headers),
                at=self.clock(),
            )
        )  # fmt: skip
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
        now = self.clock()
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
        prefix = {"jobs": "task_", "veo": "veo_", "runway": "runway_"}[kind]
        task = Task(self._new_id(prefix), model, kind, params, self.clock(), fail)
        self.tasks[task.task_id] = task
        return task

    async def _json_body(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    @staticmethod
    def _check_jobs_input(model: Any, inp: dict[str, Any]) -> list[str]:
        rule = JOBS_INPUTS.get(model) if isinstance(model, str) else None
        if rule is None:
            return [f"unknown model {model!r}"]
        problems = []
        durations, resolutions = _values(model)
        allowed = {"prompt", rule.image, rule.length} | set(rule.optional)
        if rule.resolution:
            allowed.add(rule.resolution)
        if rule.aspect:
            allowed.add("aspect_ratio")
        unknown = sorted(set(inp) - allowed)
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)} for {model}")
        if not inp.get("prompt") or len(str(inp["prompt"])) > 10000:
            problems.append("prompt is required (at most 10000 characters)")
        image = inp.get(rule.image)
        if rule.image_is_list:
            if not (isinstance(image, list) and len(image) == 1 and isinstance(image[0], str)):
                problems.append(f"{rule.image} must be a list with one URL")
        elif not (isinstance(image, str) and image):
            problems.append(f"{rule.image} must be a URL")
        length = inp.get(rule.length)  # absent: the model's default
        if length is not None and (not isinstance(length, str) or length not in durations):
            problems.append(f"{rule.length} must be one of {sorted(durations)} (a string)")
        if rule.resolution and inp.get(rule.resolution, min(resolutions)) not in resolutions:
            problems.append(f"{rule.resolution} must be one of {sorted(resolutions)}")
        if rule.aspect and inp.get("aspect_ratio", rule.aspect[0]) not in rule.aspect:
            problems.append(f"aspect_ratio must be one of {rule.aspect}")
        if rule.resolution and isinstance(length, str) and length.isdigit():
            excluded = ALL_MODELS[model].excluded
            if (int(length), inp.get(rule.resolution)) in excluded:
                problems.append(f"{inp.get(rule.resolution)} is not offered at {length} s")
        return problems

    @staticmethod
    def _image_urls(inp: dict[str, Any]) -> list[str]:
        for name in ("image_urls", "input_urls"):
            if isinstance(inp.get(name), list):
                return [str(u) for u in inp[name]]
        return [str(inp["image_url"])] if inp.get("image_url") else []

    async def _create_jobs(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        early = await self._enter(request, "createTask", body)
        if early is not None:
            return early
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            return self.answer(422, "Validation failed: input is required")
        model, inp = body.get("model"), body["input"]
        problems = self._check_jobs_input(model, inp)
        if problems:
            return self.answer(422, "Validation failed: " + "; ".join(problems))
        problem = await self._fetch(self._image_urls(inp))
        if problem:
            return self.answer(422, problem)
        refused = self._admit()
        if refused is not None:
            return refused
        task = self._new_task(str(model), "jobs", body)
        return self.answer(200, "success", {"taskId": task.task_id})

    async def _create_veo(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        early = await self._enter(request, "createTask", body)
        if early is not None:
            return early
        if not isinstance(body, dict) or not body.get("prompt"):
            return self.answer(422, "Validation failed: prompt is required")
        unknown = sorted(set(body) - VEO_FIELDS)
        if unknown:
            return self.answer(422, f"Validation failed: unknown field(s) {', '.join(unknown)}")
        model = body.get("model", "veo3_fast")
        if model not in ("veo3", "veo3_fast"):
            return self.answer(422, f"Validation failed: unknown model {model!r}")
        if body.get("aspect_ratio", "16:9") not in ("16:9", "9:16", "Auto"):
            return self.answer(422, "Ratio error")
        images = body.get("imageUrls") or []
        kind = body.get("generationType", "TEXT_2_VIDEO" if not images else "FIRST_AND_LAST_FRAMES_2_VIDEO")
        if kind == "FIRST_AND_LAST_FRAMES_2_VIDEO" and not (
            isinstance(images, list) and 1 <= len(images) <= 2
        ):
            return self.answer(422, "Validation failed: FIRST_AND_LAST_FRAMES_2_VIDEO takes 1 or 2 imageUrls")
        if kind == "REFERENCE_2_VIDEO" and model != "veo3_fast":
            return self.answer(422, "Validation failed: REFERENCE_2_VIDEO is veo3_fast only")
        if kind not in ("TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO"):
            return self.answer(422, f"Validation failed: generationType {kind!r}")
        problem = await self._fetch(list(images))
        if problem:
            return self.answer(451, "Failed to fetch the image: " + problem)
        refused = self._admit()
        if refused is not None:
            return refused
        task = self._new_task(str(model), "veo", body)
        return self.answer(200, "success", {"taskId": task.task_id})

    async def _create_runway(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        early = await self._enter(request, "createTask", body)
        if early is not None:
            return early
        if not isinstance(body, dict):
            return self.answer(422, "Validation failed: a JSON object is required")
        problems = []
        unknown = sorted(set(body) - RUNWAY_FIELDS)
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)}")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt or len(prompt) > 1800:
            problems.append("prompt is required (at most 1800 characters)")
        if not isinstance(body.get("imageUrl"), str) or not body.get("imageUrl"):
            problems.append("imageUrl must be a URL")
        duration, quality = body.get("duration"), body.get("quality")
        if duration not in (5, 10):
            problems.append("duration must be 5 or 10")
        if quality not in ("720p", "1080p"):
            problems.append("quality must be 720p or 1080p")
        if duration == 10 and quality == "1080p":
            problems.append("1080p is only offered at 5 s")
        if body.get("aspectRatio", "16:9") not in ("16:9", "9:16", "1:1", "4:3", "3:4"):
            problems.append("aspectRatio is not supported")
        if problems:
            return self.answer(422, "Validation failed: " + "; ".join(problems))
        problem = await self._fetch([str(body["imageUrl"])])
        if problem:
            return self.answer(451, "Failed to fetch the image: " + problem)
        refused = self._admit()
        if refused is not None:
            return refused
        task = self._new_task("runway-gen4", "runway", body)
        return self.answer(200, "success", {"taskId": task.task_id})

    def _progress(self, task: Task) -> str:
        elapsed = self.clock() - task.created
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

    def issue_url(self, task: Task) -> str:
        """A result URL for the task: a new one each time (fresh_urls), or the first again."""
        if task.first_url and not self.fresh_urls:
            return task.first_url
        url = self._new_url(task)
        task.first_url = task.first_url or url
        return url

    def _new_url(self, task: Task) -> str:
        token = self._new_id("u")
        self.result_urls[token] = ResultUrl(task.task_id, self.clock(), dead=self.dead_urls > 0)
        self.dead_urls = max(0, self.dead_urls - 1)
        return f"{self.url}/videos/{task.task_id}.mp4?token={token}"

    def video_url(self, task: Task) -> str:
        return self.issue_url(task)

    def _record(self, task: Task, state: str) -> dict[str, Any]:
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
            data["resultJson"] = json.dumps({"resultUrls": [self.issue_url(task)]})
        elif state == "fail" and task.fail:
            data["failCode"], data["failMsg"] = task.fail
        return data

    async def _record_info(self, request: web.Request) -> web.Response:
        task = await self._lookup(request)
        if isinstance(task, web.Response):
            return task
        if task.kind != JOBS:
            return self.answer(404, "Task not found")
        return self.answer(200, "success", self._record(task, self._progress(task)))

    async def _veo_record_info(self, request: web.Request) -> web.Response:
        task = await self._lookup(request)
        if isinstance(task, web.Response):
            return task
        if task.kind != VEO:
            return self.answer(404, "Task not found")
        state = self._progress(task)
        flag = {"success": 1, "fail": 3}.get(state, 0)
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "paramJson": json.dumps(task.params),
            "successFlag": flag,
            "response": {"taskId": task.task_id, "resultUrls": [self.issue_url(task)]} if flag == 1 else None,
            "errorCode": int(task.fail[0]) if flag == 3 and task.fail and task.fail[0].isdigit() else None,
            "errorMessage": task.fail[1] if flag == 3 and task.fail else None,
        }
        return self.answer(200, "success", data)

    def _runway_record(self, task: Task, state: str) -> dict[str, Any]:
        runway_state = {"waiting": "wait", "generating": "generating"}.get(state, state)
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "state": runway_state,
            "generateParam": {k: task.params.get(k) for k in ("prompt", "imageUrl", "duration", "quality")},
            "videoInfo": None,
            "failCode": None,
            "failMsg": None,
            "expireFlag": 0,
        }
        if state == "success":
            data["videoInfo"] = {"videoId": task.task_id, "videoUrl": self.issue_url(task), "imageUrl": ""}
        elif state == "fail" and task.fail:
            data["failCode"], data["failMsg"] = (
                int(task.fail[0]) if task.fail[0].isdigit() else 500,
                task.fail[1],
            )
        return data

    async def _runway_record_detail(self, request: web.Request) -> web.Response:
        task = await self._lookup(request)
        if isinstance(task, web.Response):
            return task
        if task.kind != RUNWAY:
            return self.answer(404, "Task not found")
        return self.answer(200, "success", self._runway_record(task, self._progress(task)))

    async def _download_url(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        early = await self._enter(request, "downloadUrl", body)
        if early is not None:
            return early
        url = body.get("url") if isinstance(body, dict) else None
        task_id = str(url).split("/videos/", 1)[-1].split(".mp4", 1)[0] if isinstance(url, str) else ""
        task = self.tasks.get(task_id)
        if task is None or self._progress(task) != "success":
            return self.answer(422, "Validation failed: not a result URL of yours")
        return self.answer(200, "success", self._new_url(task))

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
        issued = self.result_urls.get(request.query.get("token", ""))
        if issued is None or issued.task_id != task.task_id:
            raise web.HTTPNotFound()
        expired = (
            issued.dead
            or (self.url_max_downloads is not None and issued.downloads >= self.url_max_downloads)
            or (self.url_ttl_seconds is not None and self.clock() - issued.issued >= self.url_ttl_seconds)
        )
        if expired:
            self.expired_downloads += 1
            return web.Response(
                status=self.expired_status, text="<Error>AccessDenied: Request has expired</Error>"
            )
        issued.downloads += 1
        assert self.video is not None
        return web.Response(body=self.video, headers={"Content-Type": self.video_content_type})
