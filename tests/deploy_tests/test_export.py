"""Export: arch YAML with provenance, ONNX (checked in onnxruntime), TorchScript, timm entrypoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest
import timm
import torch
from support.finished_study import make_finished_study

from nas_attn import ArchConfig, NasAttnError, build_model
from nas_attn.deploy.formats import export_onnx, export_torchscript
from nas_attn.deploy.select import export_arch, select_trial

PLACEMENTS = {
    "channel": {"layer1": {"module": "se", "reduction": 8}, "layer2": {"module": "eca"}},
    "spatial": {"layer2": {"module": "cbam"}, "layer3": {"module": "triplet"}, "layer4": {"module": "coord"}},
    "self": {"layer3": {"module": "mhsa"}, "layer4": {"module": "nonlocal", "position": "stage_out"}},
    "cross_and_sagan": {
        "layer3": {"module": "cross", "position": "stage_out"},
        "layer4": {"module": "sagan"},
    },
}


def trained_like(arch: ArchConfig) -> torch.nn.Module:
    """A built model with every parameter and buffer perturbed, so zero-initialised gammas matter."""
    model = build_model(arch).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            tensor.add_(0.05 * torch.randn(tensor.shape, generator=gen))
    for buf in model.buffers():
        if buf.is_floating_point():
            buf.abs_()  # keep BN running variances positive
    return model


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
def test_onnx_matches_pytorch_in_onnxruntime(name: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    arch = ArchConfig(image_size=16, stages=PLACEMENTS[name])
    model = trained_like(arch)
    path = export_onnx(arch, tmp_path / f"{name}.onnx", model=model)
    x = torch.randn(3, 3, 16, 16)  # batch 3: the batch axis is dynamic
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"images": x.numpy()})
    assert got.shape == (3, 10)
    assert np.abs(got - expected).max() < 1e-4


def test_torchscript_matches_pytorch(tmp_path: Path) -> None:
    arch = ArchConfig(image_size=16, stages=PLACEMENTS["spatial"])
    model = trained_like(arch)
    path = export_torchscript(arch, tmp_path / "m.pt", model=model)
    loaded = torch.jit.load(str(path))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_timm_entrypoint_builds_the_same_network(tmp_path: Path) -> None:
    arch = ArchConfig(image_size=16, stages={**PLACEMENTS["channel"], "layer3": {"module": "cbam"}})
    path = tmp_path / "best.yaml"
    arch.to_yaml(path)
    ours = build_model(path, num_classes=5).eval()
    via_timm = timm.create_model("nas_attn", arch=str(path), num_classes=5).eval()
    assert list(ours.state_dict()) == list(via_timm.state_dict())
    via_timm.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(via_timm(x), ours(x))
    assert "nas_attn" in timm.list_models("nas_attn")


def test_timm_entrypoint_forwards_backbone_options_and_refuses_hub_weights() -> None:
    model = timm.create_model("nas_attn", arch={"image_size": 16}, drop_rate=0.3)
    assert model.drop_rate == 0.3
    with pytest.raises(NasAttnError, match="needs arch="):
        timm.create_model("nas_attn")
    with pytest.raises(NasAttnError, match="no hub weights"):
        timm.create_model("nas_attn", pretrained=True, arch={"image_size": 16})


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    return make_finished_study(tmp_path)


def test_select_by_number_knee_and_latency_budget(study: optuna.Study) -> None:
    assert select_trial(study, trial=2).number == 2
    assert select_trial(study, knee=True).number == 1  # (0.90, 2 ms) between (0.60, 1) and (0.95, 5)
    assert select_trial(study, max_latency_ms=3.5).number == 1  # most accurate within 3.5 ms
    assert select_trial(study, max_latency_ms=10).number == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trial": 9}, "trial 9 is not a complete trial of 's'; complete trials: 0, 1, 2, 3"),
        ({"max_latency_ms": 0.5}, "no trial is within 0.5 ms (fastest: 1.000 ms)"),
        ({}, "choose exactly one of"),
        ({"trial": 1, "knee": True}, "choose exactly one of"),
    ],
)
def test_selection_errors(study: optuna.Study, kwargs: dict, message: str) -> None:
    with pytest.raises(NasAttnError) as err:
        select_trial(study, **kwargs)
    assert message in str(err.value)


def test_exported_yaml_carries_provenance_and_builds(study: optuna.Study, tmp_path: Path) -> None:
    out = tmp_path / "best.yaml"
    arch = export_arch(study, select_trial(study, knee=True), "sqlite:///s.db", out)
    loaded = ArchConfig.from_yaml(out)
    assert loaded == arch and loaded.stages["layer1"].module == "eca"
    prov = loaded.provenance or {}
    assert (
        prov["study"] == "s"
        and prov["trial"] == 1
        and prov["objectives"] == {"accuracy": 0.9, "latency_ms": 2.0}
    )
    assert prov["device"] == "cpu test" and prov["versions"]["torch"] == torch.__version__
    assert prov["arch_digest"] == loaded.digest()
    assert build_model(out)(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_export_carries_seed_means_and_skips_screened_trials(study: optuna.Study, tmp_path: Path) -> None:
    from nas_attn.search.studydb.attrs import seed_runs_key

    study.set_user_attr(seed_runs_key(1), {"seeds": [1, 2], "values": [[0.80, 2.2], [0.85, 2.4]]})
    prov = export_arch(study, select_trial(study, trial=1), "sqlite:///s.db").provenance or {}
    assert prov["seeds"] == 3
    assert prov["objectives"] == {"accuracy": pytest.approx(0.85), "latency_ms": pytest.approx(2.2)}
    assert prov["objectives_std"]["accuracy"] == pytest.approx(0.05)
    screened = study.ask()  # fast, but never trained: must not be what --max-latency-ms picks
    screened.set_user_attr("arch", study.trials[0].user_attrs["arch"])
    screened.set_user_attr("latency_ms", 0.1)
    screened.set_user_attr("trained", False)
    study.tell(screened, [0.0, 0.1])
    assert select_trial(study, max_latency_ms=1.5).number == 0


def test_knee_of_a_study_with_only_screened_trials_is_a_clear_error(tmp_path: Path) -> None:
    study = make_finished_study(tmp_path, rows=[])
    screened = study.ask()
    screened.set_user_attr("arch", ArchConfig(image_size=16).to_dict())
    screened.set_user_attr("trained", False)
    study.tell(screened, [0.0, 9.0])
    with pytest.raises(NasAttnError, match="has no ranked trial .* screened out by a constraint"):
        select_trial(study, knee=True)
