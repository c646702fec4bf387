"""timm.create_model("nas_attn", ...) with timm's options, the arch's input for timm's data
pipeline, the normalisation export records, and the timm command export prints."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest
import timm
import torch
from support.cli import run_cli
from support.finished_study import make_finished_study
from timm.data import resolve_data_config
from timm.layers import DropBlock2d, DropPath
from timm.utils import ParseKwargs

from nas_attn import ArchConfig, NasAttnError
from nas_attn.attention.squeeze_excite import SqueezeExcite
from nas_attn.deploy.select import export_arch, select_trial
from nas_attn.deploy.timm_command import timm_command

ARCH = {
    "image_size": 16,
    "stages": {"layer1": {"module": "se", "reduction": 8}},
    "normalization": {"mean": [0.25, 0.5, 0.75], "std": [0.2, 0.3, 0.4]},
}


def test_timm_regularisation_options_reach_the_backbone() -> None:
    model = timm.create_model(
        "nas_attn", arch=ARCH, num_classes=7, drop_rate=0.3, drop_path_rate=0.2, drop_block_rate=0.1
    )
    assert model.drop_rate == 0.3 and model.fc.out_features == 7
    drop_path = {name: m.drop_prob for name, m in model.named_modules() if isinstance(m, DropPath)}
    assert drop_path["layer4.1.drop_path"] == pytest.approx(0.2)  # timm's linear schedule ends at the rate
    assert len(drop_path) == 7  # every block but the first
    drop_block = [name for name, m in model.named_modules() if isinstance(m, DropBlock2d)]
    assert drop_block == [
        "layer3.0.drop_block",
        "layer3.1.drop_block",
        "layer4.0.drop_block",
        "layer4.1.drop_block",
    ]
    assert all(isinstance(model.layer1[i].se, SqueezeExcite) for i in (0, 1))  # the placement is kept
    x = torch.randn(4, 3, 16, 16)
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout is live in training
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x)) and model(x).shape == (4, 7)


def test_global_pool_and_the_arch_class_count() -> None:
    model = timm.create_model("nas_attn", arch=ARCH, global_pool="max")
    assert model.global_pool.pool_type == "max" and model.num_classes == 10  # the arch's num_classes


def test_pretrained_cfg_gives_timm_the_arch_input() -> None:
    model = timm.create_model("nas_attn", arch=ARCH, num_classes=3)
    expected = {
        "input_size": (3, 16, 16),
        "interpolation": "bilinear",
        "mean": (0.25, 0.5, 0.75),
        "std": (0.2, 0.3, 0.4),
        "crop_pct": 1.0,
        "crop_mode": "center",
    }
    assert resolve_data_config({}, model=model) == expected
    assert resolve_data_config({}, model=model, use_test_size=True) == expected  # validate.py's default
    assert resolve_data_config({"input_size": (3, 32, 32), "mean": [0.5]}, model=model)["input_size"] == (
        3,
        32,
        32,
    )
    cfg = model.pretrained_cfg
    assert cfg["architecture"] == "nas_attn" and cfg["num_classes"] == 3 and cfg["classifier"] == "fc"
    assert not {"url", "hf_hub_id", "test_input_size"} & set(cfg) and model.default_cfg is cfg
    plain = timm.create_model("nas_attn", arch={"image_size": 24})
    assert "mean" not in plain.pretrained_cfg and plain.pretrained_cfg["input_size"] == (3, 24, 24)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"pretrained": True},
            'timm model "nas_attn" has no hub weights, so --pretrained (pretrained=True) cannot load any; '
            "drop it and set backbone_weights: PATH (a local checkpoint of the backbone) in the arch YAML",
        ),
        ({"in_chans": 1}, "takes 3-channel RGB images, got in_chans=1; use --input-size 3 H W"),
        (
            {"arch": None},
            "needs arch=PATH (an exported arch YAML) or a dict; in timm's scripts: --model-kwargs",
        ),
    ],
)
def test_refusals_name_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(NasAttnError) as err:
        timm.create_model("nas_attn", **{"arch": ARCH, **kwargs})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_timm_checkpoint_options_load_a_trained_model(tmp_path: Path) -> None:
    trained = timm.create_model("nas_attn", arch=ARCH)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
    path = tmp_path / "model_best.pth.tar"
    torch.save({"epoch": 3, "arch": "nas_attn", "state_dict": trained.state_dict()}, path)
    initial = timm.create_model("nas_attn", arch=ARCH, checkpoint_path=str(path))  # --initial-checkpoint
    resumed = timm.create_model("nas_attn", arch=ARCH)
    timm.models.resume_checkpoint(resumed, str(path))  # --resume
    for model in (initial, resumed):
        for (name, ours), theirs in zip(
            model.state_dict().items(), trained.state_dict().values(), strict=True
        ):
            assert torch.equal(ours, theirs), name


@pytest.mark.parametrize(
    "path", ["best.yaml", "runs/best.yaml", "/abs dir/best.yaml", "123", "True", "x=y.yaml"]
)
def test_the_printed_command_parses_back_in_timms_argument_parser(path: str) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--model")
    parser.add_argument("--model-kwargs", nargs="*", default={}, action=ParseKwargs)
    parser.add_argument("--num-classes", type=int)
    parser.add_argument("--input-size", nargs=3, type=int)
    parser.add_argument("--mean", type=float, nargs="+")
    parser.add_argument("--std", type=float, nargs="+")
    words = shlex.split(timm_command(ArchConfig.from_dict(ARCH), path))
    assert words[:3] == ["nas-attn", "with-timm", "train.py"]
    args = parser.parse_args(words[3:])
    assert args.model == "nas_attn" and args.model_kwargs == {"arch": path} and args.data_dir == "DATA_DIR"
    assert (args.num_classes, args.input_size) == (10, [3, 16, 16])
    assert (args.mean, args.std) == ([0.25, 0.5, 0.75], [0.2, 0.3, 0.4])


def test_export_records_the_proxy_normalisation_outside_the_digest(tmp_path: Path) -> None:
    study = make_finished_study(tmp_path, normalization=([0.123456, 0.5, 0.5], [0.25, 0.3, 0.333333]))
    chosen = select_trial(study, trial=1)
    arch = export_arch(study, chosen, "sqlite:///s.db", tmp_path / "best.yaml")
    assert arch.normalization is not None
    assert arch.normalization.mean == (0.1235, 0.5, 0.5) and arch.normalization.std == (0.25, 0.3, 0.3333)
    assert ArchConfig.from_yaml(tmp_path / "best.yaml") == arch
    assert arch.digest() == chosen.user_attrs["arch_digest"]  # the data's statistics are not the network's


def test_export_of_trials_without_normalisation_omits_it(tmp_path: Path) -> None:
    study = make_finished_study(tmp_path, normalization=([], []))
    arch = export_arch(study, select_trial(study, trial=1), "sqlite:///s.db")
    assert arch.normalization is None
    assert "--mean" not in timm_command(arch, "best.yaml")


@pytest.mark.parametrize(
    ("normalization", "tail"),
    [
        (([0.25, 0.5, 0.75], [0.2, 0.3, 0.4]), " --mean 0.25 0.5 0.75 --std 0.2 0.3 0.4"),
        (([], []), ""),  # a study made before workers reported it
    ],
)
def test_export_prints_the_timm_command_on_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    normalization: tuple[list[float], list[float]],
    tail: str,
) -> None:
    make_finished_study(tmp_path, normalization=normalization)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COLUMNS", raising=False)  # piped output: 140 columns, the command is longer
    args = ["export", "--storage", "sqlite:///s.db", "--study", "s", "--trial", "2", "--out", "b.yaml"]
    code, out, _ = run_cli(args, tmp_path, capsys)
    assert code == 0
    lines = out.splitlines()
    command = (
        "  nas-attn with-timm train.py --data-dir DATA_DIR --model nas_attn --model-kwargs arch=b.yaml "
        "--num-classes 10 --input-size 3 16 16" + tail
    )
    assert command in lines
    assert ("add your data's --mean/--std" in lines[-1]) == (not tail)


@pytest.mark.parametrize(
    ("normalization", "message"),
    [
        ({"mean": [0.5, 0.5, 0.5], "std": [0.2, 0.0, 0.2]}, "normalization.std: every std must be > 0"),
        (
            {"mean": [0.5], "std": [0.2, 0.2, 0.2]},
            "normalization.mean: give 3 values, one per RGB channel; got 1",
        ),
        ({"mean": [0.5, 0.5, 0.5]}, "normalization.std: Field required"),
    ],
)
def test_bad_normalization_is_one_clear_error(normalization: dict, message: str) -> None:
    with pytest.raises(NasAttnError, match="^invalid arch config: ") as err:
        ArchConfig.from_dict({"normalization": normalization})
    assert message in str(err.value)
