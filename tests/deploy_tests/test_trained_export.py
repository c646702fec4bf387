"""Trained weights out: a `nas-attn train` checkpoint to ONNX, TorchScript and safetensors.

Each written file is loaded by its own runtime (onnxruntime, torch.jit, safetensors) and
compared with the checkpoint's PyTorch model, rebuilt here independently of nas_attn.deploy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from support.cli import run_cli

from nas_attn import ArchConfig, NasAttnError, build_model
from nas_attn.data import load_dataset
from nas_attn.deploy import export_trained, load_safetensors, load_trained
from nas_attn.deploy.checkpoint import BEST, CHECKPOINT
from nas_attn.deploy.train import TrainSettings, train_arch

# every test here uses the module's trained checkpoint (a real 1-epoch training): full suite only
pytestmark = pytest.mark.slow

ARCH = ArchConfig(
    image_size=8, stages={"layer2": {"module": "se", "reduction": 8}, "layer3": {"module": "cbam"}}
)
SETTINGS = TrainSettings(dataset="digits", epochs=1, batch_size=64, lr=0.1, crop_padding=1, flip=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding best.pt and last.pt of a 1-epoch run on digits at 8 px."""
    out = tmp_path_factory.mktemp("train")
    outcome = train_arch(ARCH, SETTINGS, out, device="cpu", data=load_dataset("digits", 8, seed=0))
    assert outcome.num_classes == 10 and (out / BEST).is_file()
    return out


def checkpoint_model(path: Path) -> torch.nn.Module:
    """The checkpoint's PyTorch network, rebuilt without nas_attn.deploy."""
    model = build_model(ARCH)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return model.eval()


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_trained_weights_to_onnx_torchscript_and_safetensors_match_the_checkpoint(
    trained: Path, tmp_path: Path
) -> None:
    ort = pytest.importorskip("onnxruntime")
    written = export_trained(
        ARCH,
        trained / BEST,
        onnx=tmp_path / "m.onnx",
        torchscript=tmp_path / "m.ts",
        safetensors=tmp_path / "m.safetensors",
    )
    assert [w.kind for w in written] == ["ONNX", "TorchScript", "safetensors"]
    assert all(w.max_abs_diff < 1e-4 for w in written)
    reference = checkpoint_model(trained / BEST)
    fresh = build_model(ARCH).eval()
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(7))  # not the probe input
    with torch.no_grad():
        expected = reference(x)
        assert (fresh(x) - expected).abs().max() > 1e-2  # trained weights, not fresh ones, are compared

    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"images": x.numpy()})
    assert got.shape == (3, 10)
    assert np.abs(got - expected.numpy()).max() < 1e-4

    scripted = torch.jit.load(str(tmp_path / "m.ts"))
    with torch.no_grad():
        assert (scripted(x) - expected).abs().max() < 1e-4

    from safetensors.torch import load_file

    rebuilt = build_model(ARCH)
    rebuilt.load_state_dict(load_file(str(tmp_path / "m.safetensors")))
    with torch.no_grad():
        assert (rebuilt.eval()(x) - expected).abs().max() < 1e-4
        assert (load_safetensors(tmp_path / "m.safetensors")(x) - expected).abs().max() < 1e-4


def test_last_checkpoint_loads_like_best(trained: Path) -> None:
    model = load_trained(ARCH, trained / CHECKPOINT)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), checkpoint_model(trained / CHECKPOINT)(x))


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (
            ArchConfig.from_dict(
                {**ARCH.to_dict(), "stages": {"layer2": {"module": "eca"}, "layer3": {"module": "cbam"}}}
            ),
            "was trained for another arch (stages.layer2.module: se in the checkpoint, eca in the arch",
        ),
        (
            ArchConfig.from_dict({**ARCH.to_dict(), "num_classes": 5}),
            "has 10 classes but the arch says num_classes: 5; set num_classes: 10 in the arch YAML",
        ),
        (
            ArchConfig.from_dict({**ARCH.to_dict(), "image_size": 16}),
            "image_size: 8 in the checkpoint, 16 in the arch",
        ),
    ],
    ids=["placement", "classes", "image-size"],
)
def test_a_checkpoint_of_another_network_is_refused_with_what_differs(
    trained: Path, arch: ArchConfig, message: str
) -> None:
    with pytest.raises(NasAttnError) as err:
        load_trained(arch, trained / BEST)
    assert message in str(err.value)


def test_files_that_are_not_checkpoints_are_refused(trained: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(NasAttnError, match="is not a nas-attn train checkpoint"):
        load_trained(ARCH, tmp_path / "notes.pt")
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(NasAttnError, match="no 'model' state dict"):
        load_trained(ARCH, tmp_path / "other.pt")
    state = torch.load(trained / BEST, weights_only=True)
    del state["model"]["fc.weight"]
    torch.save(state, tmp_path / "cut.pt")
    with pytest.raises(NasAttnError, match="missing 1 tensor.*fc.weight"):
        load_trained(ARCH, tmp_path / "cut.pt")
    with pytest.raises(NasAttnError, match="checkpoint not found"):
        load_trained(ARCH, tmp_path / "nope.pt")


def test_cli_export_of_trained_weights_and_its_errors(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxruntime")
    ARCH.to_yaml(tmp_path / "best.yaml")
    best = str(trained / BEST)
    code, out, err = run_cli(
        ["export", "--arch", "best.yaml", "--weights", best, "--safetensors", "m.safetensors"],
        tmp_path,
        capsys,
    )
    assert code == 0, err
    assert "safetensors -> m.safetensors (max abs diff vs PyTorch" in out
    assert (tmp_path / "m.safetensors").is_file()
    ARCH.model_copy(update={"num_classes": 3}).to_yaml(tmp_path / "three.yaml")
    for args, fragment in [
        (["--arch", "three.yaml", "--weights", best, "--onnx", "x.onnx"], "has 10 classes"),
        (["--weights", best, "--onnx", "x.onnx"], "needs both --arch ARCH.yaml and --weights"),
        (["--arch", "best.yaml", "--weights", best], "say what to write: --onnx FILE"),
        (["--arch", "best.yaml", "--weights", best, "--onnx", "x.onnx", "--study", "s"], "use one pair"),
        (["--onnx", "x.onnx"], "export needs --study NAME and --out FILE"),
    ]:
        code, out, err = run_cli(["export", *args], tmp_path, capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1, err
        assert lines[0].startswith("nas-attn: error: ") and fragment in lines[0], lines[0]
        assert "Traceback" not in out + err
    assert not (tmp_path / "x.onnx").exists()


def test_cli_train_writes_onnx_of_its_best_weights_at_the_end(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxruntime")
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)  # a finished run: train resumes at its end, then exports
    ARCH.to_yaml(tmp_path / "best.yaml")
    args = ["train", "--arch", "best.yaml", "--epochs", "1", "--batch-size", "64", "--lr", "0.1"]
    args += ["--no-flip", "--out", "run", "--device", "cpu", "--export-onnx", "m.onnx"]
    code, out, err = run_cli(args, tmp_path, capsys)
    assert code == 0, err
    assert "resumed from epoch 1" in out and "ONNX -> m.onnx (max abs diff vs PyTorch" in out
    accuracy = torch.load(run_dir / CHECKPOINT, weights_only=True)["history"][0]
    assert "learning curve (validation accuracy per epoch):" in out
    assert f"epoch   1  {accuracy:.4f}  {chr(0x2588) * round(accuracy * 40)}  best" in out
    import onnxruntime as ort

    x = torch.randn(2, 3, 8, 8)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"images": x.numpy()})
    with torch.no_grad():
        assert np.abs(got - checkpoint_model(run_dir / BEST)(x).numpy()).max() < 1e-4
