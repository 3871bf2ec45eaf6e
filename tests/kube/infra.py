"""What the real-cluster tests need, set up by the project itself on a clean machine:

- a cluster: `VIDGEN_TEST_KUBECONFIG` (any cluster: kind, a real one), else the one-node
  Kubernetes in `../shared/kube` (started with its `up`; needs root);
- a Docker engine (Debian's docker.io, installed with apt when missing, started here with no
  bridge and no iptables, its own data root and socket under `VIDGEN_E2E_HOME`), a Debian base
  image made with debootstrap (no registry needed; `VIDGEN_TEST_BASE_IMAGE` names another), the
  two images built from `Dockerfile.bot` and `Dockerfile.runner`, and loaded into the cluster.

Everything slow is cached under `VIDGEN_E2E_HOME` (default /var/tmp/vidgen-e2e): the base
tarball, Docker's data root (layer cache), and images tagged by the hash of what they are built
from, so a re-run with unchanged sources builds nothing. The cluster and the Docker engine are
left running for the next run (`../shared/kube/down`; `kill $(cat $VIDGEN_E2E_HOME/dockerd.pid)`).

`python -m tests.kube.infra` does it all and prints the kubeconfig and the images.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_KUBE = Path(os.environ.get("VIDGEN_SHARED_KUBE", ROOT.parent / "shared" / "kube"))
HOME = Path(os.environ.get("VIDGEN_E2E_HOME", "/var/tmp/vidgen-e2e"))
KUBECONFIG_ENV = "VIDGEN_TEST_KUBECONFIG"
BASE_IMAGE_ENV = "VIDGEN_TEST_BASE_IMAGE"
LOAD_IMAGES_ENV = "VIDGEN_TEST_LOAD_IMAGES"
LOCAL_BASE = "vidgen-e2e/base:bookworm"
DEBIAN_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
#: What the images are built from (their hash is the tag).
BUILD_INPUTS = [
    "Dockerfile.bot",
    "Dockerfile.runner",
    ".dockerignore",
    "pyproject.toml",
    "setup.py",
    "README.md",
    "vidgen",
    "core",
    "bot",
    "operator",
    "runner",
    "analytics",
]


class Unavailable(Exception):
    """No cluster (or no way to build images) here: the one line the tests skip with."""


def log(message: str) -> None:
    print(f"[kube-infra] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """A machine-wide lock (other worktrees and test runs share the engine and the cache)."""
    HOME.mkdir(parents=True, exist_ok=True)
    with (HOME / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run(cmd: list[str], *, timeout: float = 1800, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure raises with the command and the tail of its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip()[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:4])} … exited {proc.returncode}:\n{tail}")
    return proc  # type: ignore[no-any-return]


# --- the cluster ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    #: The shared one-node cluster (no pod network: pods that reach the host use hostNetwork).
    shared: bool
    #: The API server as a hostNetwork pod reaches it (KUBERNETES_SERVICE_HOST/PORT), or None.
    api_host: str | None = None
    api_port: str | None = None


@functools.cache
def cluster() -> Cluster:
    """The cluster to test against; raises Unavailable with one line when there is none."""
    given = os.environ.get(KUBECONFIG_ENV)
    if given:
        if not Path(given).is_file():
            raise Unavailable(f"{KUBECONFIG_ENV}={given}: no such file")
        return Cluster(given, shared=False)
    up = SHARED_KUBE / "up"
    if not up.exists():
        raise Unavailable(f"no cluster: {up} is missing and {KUBECONFIG_ENV} is not set")
    if os.geteuid() != 0:
        raise Unavailable(
            f"no cluster: {up} needs root (or set {KUBECONFIG_ENV} to any cluster's kubeconfig)"
        )
    started = time.monotonic()
    proc = subprocess.run([str(up)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise Unavailable(f"no cluster: {up} failed: {last}")
    log(f"cluster up in {time.monotonic() - started:.1f} s")
    return Cluster(proc.stdout.strip().splitlines()[-1], shared=True, api_host="127.0.0.1", api_port="17443")


# --- Docker -------------------------------------------------------------------------------


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable(
            f"cannot build images: {', '.join(packages)} missing and no root apt-get to install them"
        )
    log(f"apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with locked("apt"):
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env, timeout=1200)


class Docker:
    """A Docker engine of our own: no bridge, no iptables, builds with host networking."""

    def __init__(self) -> None:
        self.root = HOME / "docker"
        self.sock = HOME / "docker.sock"
        self.host = os.environ.get("VIDGEN_TEST_DOCKER_HOST") or f"unix://{self.sock}"
        self.cli = (
            "/usr/bin/docker" if Path("/usr/bin/docker").exists() else (shutil.which("docker") or "docker")
        )

    def __call__(
        self, *args: str, timeout: float = 1800, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}
        return run([self.cli, *args], timeout=timeout, env=env, **kwargs)

    def alive(self) -> bool:
        try:
            self("version", "--format", "{{.Server.Version}}", timeout=20)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            return False
        return True

    def start(self) -> Docker:
        if self.alive():
            return self
        if "VIDGEN_TEST_DOCKER_HOST" in os.environ:
            raise Unavailable(f"the Docker engine at {self.host} does not answer")
        with locked("dockerd"):
            if self.alive():
                return self
            if not shutil.which("dockerd"):
                apt_install("docker.io")
                self.cli = "/usr/bin/docker"
            exec_root = HOME / "docker-exec"
            for path in (self.root, exec_root):
                path.mkdir(parents=True, exist_ok=True)
            self.sock.unlink(missing_ok=True)
            cmd = [
                "dockerd",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                f"--data-root={self.root}",
                f"--exec-root={exec_root}",
                f"--pidfile={HOME / 'dockerd.pid'}",
                "-H",
                f"unix://{self.sock}",
            ]
            log("starting dockerd")
            with (HOME / "dockerd.log").open("ab") as out:
                subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + 120
            while not self.alive():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dockerd did not answer in 120 s; see {HOME / 'dockerd.log'}")
                time.sleep(0.5)
        return self

    def has_image(self, name: str) -> bool:
        try:
            self("image", "inspect", name, timeout=60)
        except RuntimeError:
            return False
        return True

    def size(self, name: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", name).stdout.strip())


def debian_mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def base_image(docker: Docker) -> str:
    """The build's base: VIDGEN_TEST_BASE_IMAGE, else a Debian bookworm with python3 made with
    debootstrap (the tarball cached in VIDGEN_E2E_HOME), with this machine's CA bundle and pip
    settings so that pip inside a build reaches the same index as the host."""
    given = os.environ.get(BASE_IMAGE_ENV)
    if given:
        return given
    with locked("base"):
        if docker.has_image(LOCAL_BASE):
            return LOCAL_BASE
        tarball = HOME / "base-bookworm.tar"
        if not tarball.exists():
            if not shutil.which("debootstrap"):
                apt_install("debootstrap")
            with tempfile.TemporaryDirectory(dir=HOME) as tmp:
                rootfs = Path(tmp) / "rootfs"
                log(f"debootstrap bookworm ({DEBIAN_PACKAGES}) — a few minutes, once")
                run(
                    [
                        "debootstrap",
                        "--variant=minbase",
                        f"--include={DEBIAN_PACKAGES}",
                        "bookworm",
                        str(rootfs),
                        debian_mirror(),
                    ],
                    timeout=1800,
                )
                for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
                    for item in (rootfs / sub).glob("*"):
                        if item.is_file():
                            item.unlink()
                host_ca = Path("/etc/ssl/certs/ca-certificates.crt")
                if host_ca.exists():
                    shutil.copyfile(host_ca, rootfs / "etc/ssl/certs/ca-certificates.crt")
                (rootfs / "etc/pip.conf").write_text(
                    "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ndisable-pip-version-check = true\n"
                )
                partial = tarball.with_suffix(".partial")
                run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], timeout=600)
                partial.rename(tarball)
        docker(
            "import",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            str(tarball),
            LOCAL_BASE,
        )
    return LOCAL_BASE


def source_hash(base: str) -> str:
    digest = hashlib.sha256(base.encode())
    for name in BUILD_INPUTS:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for item in files:
            if "__pycache__" in item.parts or item.suffix in (".pyc", ".pyo"):
                continue
            digest.update(str(item.relative_to(ROOT)).encode())
            digest.update(item.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Images:
    registry: str
    tag: str

    @property
    def bot(self) -> str:
        return f"{self.registry}/bot:{self.tag}"

    @property
    def runner(self) -> str:
        return f"{self.registry}/runner:{self.tag}"


def build_images(docker: Docker, registry: str = "vidgen-e2e") -> Images:
    base = base_image(docker)
    images = Images(registry, source_hash(base))
    with locked("build"):
        for image, dockerfile in ((images.bot, "Dockerfile.bot"), (images.runner, "Dockerfile.runner")):
            if docker.has_image(image):
                continue
            log(f"docker build -f {dockerfile} -t {image} (base {base})")
            started = time.monotonic()
            docker(
                "build",
                "--network=host",
                "-f",
                dockerfile,
                "--build-arg",
                f"PYTHON_IMAGE={base}",
                "-t",
                image,
                ".",
                cwd=ROOT,
                timeout=3600,
            )
            log(f"built {image} in {time.monotonic() - started:.0f} s")
    return images


def load_images(docker: Docker, target: Cluster, images: Images) -> None:
    """Put the images into the cluster's image store (no registry): the shared cluster's
    load-image, or the command in VIDGEN_TEST_LOAD_IMAGES (e.g. `kind load image-archive`), which
    gets a `docker save` tarball's path as its last argument."""
    command = os.environ.get(LOAD_IMAGES_ENV)
    if not target.shared and not command:
        return  # the cluster pulls them itself (a registry the user pushed to)
    if not command and {f"docker.io/{images.bot}", f"docker.io/{images.runner}"} <= shared_cluster_images():
        return  # loaded by an earlier run
    with locked("load"), tempfile.TemporaryDirectory(dir=HOME) as tmp:
        tar = Path(tmp) / "images.tar"
        docker("save", "-o", str(tar), images.bot, images.runner)
        if command:
            run([*command.split(), str(tar)], timeout=1200)
        else:
            run([str(SHARED_KUBE / "load-image"), str(tar)], timeout=1200)


def shared_cluster_images() -> set[str]:
    """Image references in the shared cluster's containerd (empty when that cannot be read)."""
    home = Path(os.environ.get("VIDGEN_KUBE_HOME", "/var/tmp/vidgen-kube"))
    ctr = shutil.which("ctr")
    if not ctr:
        return set()
    proc = subprocess.run(
        [ctr, "--address", str(home / "var/run/containerd.sock"), "-n", "k8s.io", "images", "ls", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return set(proc.stdout.split()) if proc.returncode == 0 else set()


@functools.cache
def images_in(target: Cluster) -> Images:
    """Build (or reuse) both images and load them into the cluster."""
    if given := os.environ.get("VIDGEN_TEST_IMAGES"):  # registry:tag, built and pushed by the user
        registry, _, tag = given.rpartition(":")
        return Images(registry, tag)
    docker = Docker().start()
    images = build_images(docker)
    load_images(docker, target, images)
    return images


if __name__ == "__main__":
    found = cluster()
    built = images_in(found)
    docker = Docker()
    print(found.kubeconfig)
    for name in (built.bot, built.runner):
        print(f"{name}\t{docker.size(name) / 1e6:.0f} MB")
