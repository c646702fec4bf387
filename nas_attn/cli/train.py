"""``nas-attn train``: fully train an exported arch, with checkpoints (re-running resumes)."""

from __future__ import annotations

from pathlib import Path

import typer

from nas_attn.cli._options import AUTO_DEVICE, Device


def train(
    arch: Path = typer.Option(..., "--arch", help="Arch YAML (from nas-attn export)."),
    dataset: str = typer.Option(
        "digits", "--dataset", help="digits | mnist5k | cifar10:PATH | imagefolder:PATH ..."
    ),
    epochs: int = typer.Option(30, "--epochs", min=1),
    batch_size: int = typer.Option(128, "--batch-size", min=1),
    lr: float = typer.Option(0.1, "--lr", min=0.0),
    flip: bool = typer.Option(True, "--flip/--no-flip", help="Random horizontal flips (off for digits)."),
    out: Path = typer.Option(Path("runs/train"), "--out", help="Checkpoint folder (re-run to resume)."),
    backbone_weights: Path | None = typer.Option(
        None, "--backbone-weights", help="Local backbone checkpoint."
    ),
    device: Device = AUTO_DEVICE,
    seed: int = typer.Option(0, "--seed"),
    export_onnx: Path | None = typer.Option(
        None, "--export-onnx", help="At the end, write best.pt's network as ONNX (checked in onnxruntime)."
    ),
    export_torchscript: Path | None = typer.Option(
        None, "--export-torchscript", help="At the end, write best.pt's network as TorchScript."
    ),
    export_safetensors: Path | None = typer.Option(
        None, "--export-safetensors", help="At the end, write best.pt's weights as safetensors."
    ),
) -> None:
    """Fully train an exported arch, with checkpoints; re-running the command resumes."""
    from nas_attn.backbones import ArchConfig
    from nas_attn.cli import console, progress, tables
    from nas_attn.cli.outputs import claim_outputs
    from nas_attn.deploy.checkpoint import BEST, CHECKPOINT
    from nas_attn.deploy.train import TrainSettings, train_arch

    exports = {"--export-onnx": export_onnx, "--export-torchscript": export_torchscript}
    exports["--export-safetensors"] = export_safetensors
    # best.pt and last.pt are read back (the export, a resumed run): no export may replace them
    claim_outputs(exports, [arch, backbone_weights, out / BEST, out / CHECKPOINT], pending_dirs=[out])
    cfg = ArchConfig.from_yaml(arch)
    if backbone_weights is not None:
        cfg = cfg.model_copy(update={"backbone_weights": str(backbone_weights)})
    settings = TrainSettings(
        dataset=dataset, epochs=epochs, batch_size=batch_size, lr=lr, flip=flip, seed=seed
    )
    console.info(f"training {cfg.label()} on {dataset} for {epochs} epochs; checkpoints in {out}")
    outcome = progress.run_training(
        lambda on_epoch: train_arch(cfg, settings, out, device.value, on_epoch), epochs
    )
    if outcome.resumed_from_epoch:
        console.info(f"resumed from epoch {outcome.resumed_from_epoch}")
    tables.print_learning_curve(outcome.history)
    console.info(
        f"final validation accuracy {outcome.final_accuracy:.4f} (best {outcome.best_accuracy:.4f}); "
        f"weights: {out / 'best.pt'}"
    )
    if export_onnx or export_torchscript or export_safetensors:
        from nas_attn.deploy import export_trained

        trained = cfg.model_copy(update={"num_classes": outcome.num_classes})
        for written in export_trained(
            trained,
            out / BEST,
            onnx=export_onnx,
            torchscript=export_torchscript,
            safetensors=export_safetensors,
            flag_prefix="--export-",
        ):
            console.info(written.line())
