"""Full training of an exported arch: checkpoints, resume after interruption, weights_only loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas_attn import ArchConfig, NasAttnError
from nas_attn.data import load_dataset
from nas_attn.deploy.checkpoint import BEST, CHECKPOINT
from nas_attn.deploy.train import TrainSettings, train_arch

ARCH = ArchConfig(
    image_size=8, stages={"layer2": {"module": "se", "reduction": 8}, "layer3": {"module": "eca"}}
)
SETTINGS = TrainSettings(dataset="digits", epochs=3, batch_size=64, lr=0.1, crop_padding=1, flip=False)


@pytest.fixture(scope="module")
def digits8():
    return load_dataset("digits", 8, seed=0)


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path: Path, digits8) -> None:
    reference = train_arch(ARCH, SETTINGS, tmp_path / "straight", device="cpu", data=digits8)
    assert reference.resumed_from_epoch == 0 and len(reference.history) == 3

    def stop_after_first_epoch(report) -> None:
        if report.epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_arch(
            ARCH, SETTINGS, tmp_path / "resumed", device="cpu", on_epoch=stop_after_first_epoch, data=digits8
        )
    saved = torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=True)
    assert saved["epoch"] == 1
    resumed = train_arch(ARCH, SETTINGS, tmp_path / "resumed", device="cpu", data=digits8)
    assert resumed.resumed_from_epoch == 1 and len(resumed.history) == 3
    assert resumed.history == pytest.approx(reference.history, abs=1e-9)  # exactly the same run
    assert resumed.final_accuracy > 0.3
    best = torch.load(tmp_path / "resumed" / BEST, weights_only=True)
    assert best["accuracy"] == resumed.best_accuracy and ArchConfig.from_dict(best["arch"]) == ARCH


@pytest.mark.slow
def test_finished_run_is_not_retrained_and_other_settings_are_refused(tmp_path: Path, digits8) -> None:
    settings = TrainSettings(dataset="digits", epochs=1, batch_size=128, crop_padding=1, flip=False)
    first = train_arch(ARCH, settings, tmp_path, device="cpu", data=digits8)
    again = train_arch(ARCH, settings, tmp_path, device="cpu", data=digits8)
    assert again.resumed_from_epoch == 1 and again.history == first.history
    with pytest.raises(NasAttnError, match="another arch or training settings"):
        train_arch(
            ARCH,
            TrainSettings(dataset="digits", epochs=2, batch_size=128),
            tmp_path,
            device="cpu",
            data=digits8,
        )


@pytest.mark.slow
def test_cli_train_killed_mid_run_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    arch_path = tmp_path / "best.yaml"
    ARCH.to_yaml(arch_path)
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "nas_attn", "train", "--arch", str(arch_path), "--dataset", "digits",
        "--epochs", "4", "--batch-size", "64", "--no-flip", "--out", str(out), "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if (out / CHECKPOINT).exists():
            break
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # as a pre-empted node would
    first.communicate(timeout=60)
    epoch = torch.load(out / CHECKPOINT, weights_only=True)["epoch"]
    assert 1 <= epoch < 4
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert f"resumed from epoch {epoch}" in second.stdout
    assert "final validation accuracy" in second.stdout
    assert torch.load(out / CHECKPOINT, weights_only=True)["epoch"] == 4
