import json
import subprocess
import sys
from pathlib import Path

import pytest

from nas_attn import ArchConfig, NasAttnError

CFG = {
    "backbone": "resnet18",
    "stem": "cifar",
    "image_size": 16,
    "num_classes": 10,
    "stages": {
        "layer1": {"module": "se", "reduction": 8, "position": "block"},
        "layer2": {"module": "none"},
        "layer3": {"module": "eca", "position": "block"},
        "layer4": {"module": "cbam", "reduction": 16, "position": "last_block"},
    },
}


def test_dict_and_yaml_round_trip_is_exact(tmp_path: Path) -> None:
    cfg = ArchConfig.from_dict(CFG)
    assert ArchConfig.from_dict(cfg.to_dict()) == cfg
    assert ArchConfig.from_yaml(cfg.to_yaml()) == cfg
    cfg.to_yaml(tmp_path / "arch.yaml")
    assert ArchConfig.from_yaml(tmp_path / "arch.yaml") == cfg
    assert ArchConfig.from_yaml(str(tmp_path / "arch.yaml")) == cfg


def test_digest_ignores_key_order_provenance_and_spelled_out_defaults() -> None:
    cfg = ArchConfig.from_dict(CFG)
    reordered = json.loads(json.dumps(CFG))
    reordered["stages"] = dict(reversed(list(reordered["stages"].items())))
    assert ArchConfig.from_dict(reordered).digest() == cfg.digest()
    with_prov = ArchConfig.from_dict({**CFG, "provenance": {"study": "x", "trial": 3}})
    assert with_prov.digest() == cfg.digest()
    # reduction 16 is SE's default; eca ignores reduction; a 'none' stage is no stage
    a = ArchConfig.from_dict(
        {"stages": {"layer1": {"module": "se"}, "layer2": {"module": "eca", "reduction": 4}}}
    )
    b = ArchConfig.from_dict(
        {"stages": {"layer1": {"module": "se", "reduction": 16}, "layer2": {"module": "eca"}, "layer3": {}}}
    )
    assert a.digest() == b.digest()


@pytest.mark.parametrize(
    "change",
    [
        {"image_size": 32},
        {"stem": "imagenet"},
        {"num_classes": 100},
        {"stages": {**CFG["stages"], "layer1": {"module": "se", "reduction": 4}}},
        {"stages": {**CFG["stages"], "layer1": {"module": "se", "reduction": 8, "position": "last_block"}}},
        {"stages": {**CFG["stages"], "layer2": {"module": "eca"}}},
    ],
)
def test_digest_changes_when_the_network_changes(change: dict) -> None:
    assert ArchConfig.from_dict({**CFG, **change}).digest() != ArchConfig.from_dict(CFG).digest()


@pytest.mark.slow
def test_digest_is_stable_across_processes() -> None:
    code = (
        "from nas_attn import ArchConfig; import json,sys; "
        "print(ArchConfig.from_dict(json.loads(sys.argv[1])).digest())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code, json.dumps(CFG)], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert outs == {ArchConfig.from_dict(CFG).digest()}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            {"stages": {"layer1": {"module": "sqeeze"}}},
            "stages.layer1.module: unknown attention module 'sqeeze'",
        ),
        ({"stages": {"layer1": {"module": "se", "ratio": 4}}}, "stages.layer1.ratio: unknown key"),
        ({"stages": {"layer1": {"module": "se", "position": "inside"}}}, "stages.layer1.position"),
        ({"stem": "tiny"}, "stem"),
        ({"image_size": 2}, "image_size"),
    ],
)
def test_invalid_configs_name_the_key_path(data: dict, fragment: str) -> None:
    with pytest.raises(NasAttnError) as err:
        ArchConfig.from_dict(data)
    assert fragment in str(err.value)


def test_missing_arch_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NasAttnError, match="arch file not found"):
        ArchConfig.from_yaml(tmp_path / "missing.yaml")
