"""CLI commands that read a study: front, export, report, dashboard.

Heavy imports happen inside the commands so ``nas-attn --help`` stays fast. Every user error is
a NasAttnError (one line, non-zero exit).
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import typer

from nas_attn.cli._options import TABLE, Format, Storage, Study
from nas_attn.defaults import DEFAULT_STORAGE
from nas_attn.exceptions import NasAttnError


def front(study: Study, storage: Storage = DEFAULT_STORAGE, output_format: Format = TABLE) -> None:
    """The study's complete trials ranked by non-dominated sorting (rank 1 = Pareto front)."""
    from nas_attn.cli import tables
    from nas_attn.search.results import compute_spent, front_summary, ranked_rows_and_claims
    from nas_attn.search.studydb.storage import open_existing_storage
    from nas_attn.search.studydb.study import load_existing_study

    the_study = load_existing_study(open_existing_storage(storage), study)
    ranked, claims = ranked_rows_and_claims(the_study)
    rows = sorted(ranked, key=lambda r: (r.rank, -r.crowding, r.number))
    tables.print_rows(
        rows,
        output_format.value,
        f"trials of '{study}' by Pareto rank",
        front_summary(the_study, rows),
        compute_spent(the_study),
        claims,
    )


def export(
    study: str | None = typer.Option(None, "--study", help="Study name."),
    out: Path | None = typer.Option(None, "--out", help="Arch YAML to write, e.g. best.yaml."),
    storage: Storage = DEFAULT_STORAGE,
    trial: int | None = typer.Option(None, "--trial", help="Export this trial number."),
    knee: bool = typer.Option(False, "--knee", help="Export the knee of the Pareto front."),
    max_latency_ms: float | None = typer.Option(
        None, "--max-latency-ms", help="Export the most accurate trial within this latency."
    ),
    onnx: Path | None = typer.Option(
        None, "--onnx", help="Also write an ONNX graph (fresh weights; trained with --weights)."
    ),
    torchscript: Path | None = typer.Option(
        None, "--torchscript", help="Also write TorchScript (fresh weights; trained with --weights)."
    ),
    arch_file: Path | None = typer.Option(
        None, "--arch", help="With --weights: the arch YAML the checkpoint was trained with."
    ),
    weights: Path | None = typer.Option(
        None, "--weights", help="A nas-attn train checkpoint (best.pt / last.pt): export trained weights."
    ),
    safetensors: Path | None = typer.Option(
        None, "--safetensors", help="With --weights: write the trained weights as safetensors."
    ),
) -> None:
    """Write the chosen trial's arch YAML with provenance (and optionally ONNX / TorchScript).

    With --arch ARCH.yaml --weights CHECKPOINT instead: write a trained network as ONNX (checked in
    onnxruntime), TorchScript and/or safetensors.
    """
    from nas_attn.cli import console

    if arch_file is not None or weights is not None:
        _export_trained(study, out, arch_file, weights, onnx, torchscript, safetensors)
        return
    if study is None or out is None:
        raise NasAttnError(
            "export needs --study NAME and --out FILE (or --arch ARCH.yaml --weights CHECKPOINT "
            "to export a trained network)"
        )
    if safetensors is not None:
        raise NasAttnError("--safetensors writes trained weights: add --arch ARCH.yaml --weights CHECKPOINT")
    from nas_attn.cli.outputs import claim_outputs
    from nas_attn.deploy.formats import export_onnx, export_torchscript
    from nas_attn.deploy.select import export_arch, select_trial
    from nas_attn.deploy.timm_command import DATA_DIR_PLACEHOLDER, timm_command
    from nas_attn.outputs import storage_files
    from nas_attn.search.studydb.storage import open_existing_storage, redact_url
    from nas_attn.search.studydb.study import load_existing_study

    claim_outputs({"--out": out, "--onnx": onnx, "--torchscript": torchscript}, storage_files(storage))
    the_study = load_existing_study(open_existing_storage(storage), study)
    chosen = select_trial(the_study, trial=trial, knee=knee, max_latency_ms=max_latency_ms)
    arch = export_arch(the_study, chosen, redact_url(storage), out)
    values = ", ".join(f"{k}={v:.4g}" for k, v in (arch.provenance or {}).get("objectives", {}).items())
    console.info(f"trial {chosen.number} ({values}) -> {out}")
    console.info(f"placement: {arch.label()}")
    if onnx is not None:
        console.info(f"ONNX -> {export_onnx(arch, onnx)}")
    if torchscript is not None:
        console.info(f"TorchScript -> {export_torchscript(arch, torchscript)}")
    console.info(f"train it: nas-attn train --arch {out}")
    console.info(f"or with timm's train.py ({DATA_DIR_PLACEHOLDER}: train/ and val/, one folder per class):")
    console.command_line(timm_command(arch, out))
    if arch.normalization is None:
        console.info(
            "(this study's trials did not record their input normalisation: add your data's --mean/--std)"
        )


def report(
    study: Study,
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """One self-contained HTML report: Pareto scatter, front heatmap, hypervolume, trials."""
    from nas_attn.cli import console
    from nas_attn.cli.outputs import claim_outputs
    from nas_attn.outputs import storage_files
    from nas_attn.report import write_report
    from nas_attn.search.studydb.storage import open_existing_storage, redact_url
    from nas_attn.search.studydb.study import load_existing_study

    claim_outputs({"--out": out}, storage_files(storage))
    path = write_report(load_existing_study(open_existing_storage(storage), study), redact_url(storage), out)
    console.info(f"report -> {path} (open it in a browser; it works offline)")


def dashboard(
    storage: Storage = DEFAULT_STORAGE,
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (127.0.0.1: this machine only)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535),
) -> None:
    """optuna-dashboard on the same storage and artifact folder."""
    from optuna.artifacts import FileSystemArtifactStore
    from optuna_dashboard import run_server

    from nas_attn.cli import console
    from nas_attn.cli.serving import serve
    from nas_attn.search.studydb.artifacts import artifact_dir_for
    from nas_attn.search.studydb.storage import open_existing_storage, redact_url

    check_bind_address(host)
    opened = open_existing_storage(storage)
    if host not in {"127.0.0.1", "localhost", "::1"}:
        console.info(f"warning: binding to {host} exposes the dashboard to your network")
    console.info(f"dashboard for {redact_url(storage)} at http://{host}:{port}/ (Ctrl-C to stop)")
    artifacts = artifact_dir_for(storage)  # read only: a study without artifacts gets no folder
    store = FileSystemArtifactStore(str(artifacts)) if artifacts.is_dir() else None
    try:
        serve(run_server, opened, host=host, port=port, artifact_store=store)
    except OSError as exc:
        fix = (
            "pick another --port"
            if exc.errno == errno.EADDRINUSE
            else "pass an address of this machine as --host"
        )
        raise NasAttnError(f"cannot serve on {host}:{port}: {exc.strerror}; {fix}") from None


def check_bind_address(host: str) -> None:
    """Refuse a --host that is not an address or resolvable name (before anything is opened)."""
    try:
        socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise NasAttnError(
            f"--host '{host}' is not a valid address or host name; use 127.0.0.1 (this machine only), "
            "0.0.0.0 (every interface) or one of this machine's addresses"
        ) from None


def _export_trained(
    study: str | None,
    out: Path | None,
    arch_file: Path | None,
    weights: Path | None,
    onnx: Path | None,
    torchscript: Path | None,
    safetensors: Path | None,
) -> None:
    """``export --arch ARCH.yaml --weights CHECKPOINT (--onnx F | --torchscript F | --safetensors F)``."""
    from nas_attn.backbones import ArchConfig
    from nas_attn.cli import console
    from nas_attn.cli.outputs import claim_outputs
    from nas_attn.deploy import export_trained

    if arch_file is None or weights is None:
        raise NasAttnError("exporting a trained network needs both --arch ARCH.yaml and --weights CHECKPOINT")
    if study is not None or out is not None:
        raise NasAttnError(
            "--arch/--weights export a trained network, --study/--out a trial's arch YAML: use one pair"
        )
    claim_outputs(
        {"--onnx": onnx, "--torchscript": torchscript, "--safetensors": safetensors}, [arch_file, weights]
    )
    arch = ArchConfig.from_yaml(arch_file)
    for written in export_trained(arch, weights, onnx=onnx, torchscript=torchscript, safetensors=safetensors):
        console.info(written.line())
