from pathlib import Path

import pytest
from pydantic import ValidationError

from nas_attn import NasAttnError
from nas_attn._yaml import validate_model
from nas_attn.data import check_dataset_name, get_dataset_spec, list_datasets, load_dataset
from nas_attn.worker import ProxyConfig
from nas_attn.worker.config import SKIP_FILE_CHECKS


def test_every_kind_is_listed() -> None:
    assert list_datasets() == [
        "digits",
        "fashion-mnist",
        "mnist5k",
        "synthetic",
        "cifar10:PATH",
        "cifar100:PATH",
        "fashion-mnist:PATH",
        "imagefolder:PATH",
        "mnist:PATH",
    ]


def test_class_counts_of_fixed_names_are_known_without_loading() -> None:
    assert [get_dataset_spec(n).num_classes for n in ("digits", "mnist5k", "synthetic")] == [10, 10, 10]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "mnist",
            "dataset 'mnist' needs a path: write mnist:PATH with PATH a folder holding train-images-idx3",
        ),
        (
            "mnist5",
            "unknown dataset 'mnist5'; available: digits, fashion-mnist, mnist5k, synthetic, cifar10:PATH",
        ),
        ("svhn:/data", "unknown dataset 'svhn:/data'"),
        ("cifar10:", "dataset 'cifar10:' needs a path: write cifar10:PATH with PATH the extracted cifar-10"),
        ("imagefolder: ", "needs a path: write imagefolder:PATH with PATH a folder holding train/ and val/"),
    ],
)
def test_bad_names_give_one_clear_error(name: str, message: str) -> None:
    with pytest.raises(NasAttnError, match=message.replace("(", r"\(")):
        get_dataset_spec(name)
    with pytest.raises(NasAttnError):
        check_dataset_name(name)


@pytest.mark.parametrize("kind", ["cifar10", "cifar100", "imagefolder"])
def test_a_missing_path_names_the_path_and_the_fix(tmp_path: Path, kind: str) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(NasAttnError, match=f"{missing} does not exist; point {kind}: at "):
        load_dataset(f"{kind}:{missing}", 16)


def test_proxy_config_checks_the_files_unless_told_not_to(tmp_path: Path) -> None:
    name = f"cifar10:{tmp_path / 'gone'}"
    with pytest.raises(ValidationError, match="does not exist"):
        ProxyConfig(dataset=name)
    with pytest.raises(
        NasAttnError, match=r"invalid proxy: dataset: dataset 'cifar10:.*gone': .*gone does not exist"
    ):
        validate_model(ProxyConfig, {"dataset": name}, "proxy")
    # a worker that was shipped the data validates without the files
    assert ProxyConfig.model_validate({"dataset": name}, context=SKIP_FILE_CHECKS).dataset == name
    with pytest.raises(ValidationError, match="unknown dataset 'nope'"):
        ProxyConfig.model_validate({"dataset": "nope"}, context=SKIP_FILE_CHECKS)


def test_an_empty_folder_is_not_a_cifar_folder(tmp_path: Path) -> None:
    with pytest.raises(
        NasAttnError, match=r"is missing data_batch_1, .*test_batch; point cifar10: at the extr"
    ):
        get_dataset_spec(f"cifar10:{tmp_path}")
