"""Full training of an exported arch: checkpoints, resume after interruption, weights_only loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas_attn import ArchConfig, NasAttnError
from nas_attn.data import load_dataset
from nas_attn.training import BEST, CHECKPOINT, TrainSettings, train_arch

ARCH = ArchConfig(
    image_size=8, stages={"layer2": {"module": "se", "reduction": 8}, "layer3": {"module": "eca"}}
)
SETTINGS = TrainSettings(dataset="digits", epochs=3, batch_size=64, lr=0.1, crop_padding=1, flip=False)


@pytest.fixture(scope="module")
def digits8():
    return load_dataset("digits", 8, seed=0)


class Interrupt(Exception):
    pass


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
