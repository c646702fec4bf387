import os
from pathlib import Path

import optuna
import pytest
import yaml
from support.search import write_space
from support.spaces import space_yaml

from nas_attn import NasAttnError, load_space
from nas_attn.search import sample_arch

REPO = Path(__file__).resolve().parents[3]


FASHION_COPY = Path("/usr/share/datasets/fashion-mnist")
NEED_FASHION = os.environ.get("NAS_ATTN_REQUIRE_FASHION_MNIST") == "1"


@pytest.mark.parametrize(
    "name", ["resnet18_stages.yaml", "resnet18_cifar10_gpu.yaml", "resnet18_fashion.yaml"]
)
def test_shipped_spaces_load(name: str, tmp_path: Path) -> None:
    text = (REPO / "search_spaces" / name).read_text()
    dataset = yaml.safe_load(text)["proxy"]["dataset"]
    if ":" in dataset and not (REPO / dataset.split(":", 1)[1]).exists():
        text = text.replace(dataset, "digits")  # its files live on the user's machine, not here
    if dataset == "fashion-mnist" and not FASHION_COPY.is_dir() and not NEED_FASHION:
        text = text.replace("dataset: fashion-mnist", "dataset: digits")  # no Debian copy here
    path = tmp_path / name
    path.write_text(text)
    space = load_space(path)
    assert list(space.stages) == ["layer1", "layer2", "layer3", "layer4"]
    assert space.directions == ["maximize", "minimize"]
    assert space.num_classes == 10


def test_default_space_is_sized_for_a_laptop_cpu() -> None:
    space = load_space(REPO / "search_spaces" / "resnet18_stages.yaml")
    assert space.name == "resnet18_stages" and space.search.sampler == "nsga2"
    assert space.proxy.dataset == "digits" and space.proxy.image_size <= 16 and space.proxy.epochs <= 5


@pytest.mark.skipif(
    not FASHION_COPY.is_dir() and not NEED_FASHION, reason="dataset-fashion-mnist not installed"
)
def test_fashion_space_reads_debians_copy_at_the_measured_budget() -> None:
    space = load_space(REPO / "search_spaces" / "resnet18_fashion.yaml")
    proxy = space.proxy
    assert (proxy.dataset, proxy.image_size, proxy.train_subset, proxy.val_subset, proxy.epochs) == (
        "fashion-mnist",
        16,
        5000,
        2000,
        1,
    )
    # the measured remedy for the short proxy's bias: every placement starts from the plain
    # backbone trained once per seed for 8 epochs (benches/bench_budget_bias.py)
    assert proxy.warm_start is not None and proxy.warm_start.epochs == 8
    assert space.identity()["proxy"]["warm_start"] == {"epochs": 8}
    assert space.num_classes == 10 and space.name == "resnet18_fashion"
    assert space.search.racing is not None and space.search.racing.max_seeds == 3


def test_warm_start_is_an_option_of_any_space_and_joins_the_identity_only_when_set(tmp_path: Path) -> None:
    plain = load_space(write_space(tmp_path, space_yaml()))
    assert plain.proxy.warm_start is None and "warm_start" not in plain.identity()["proxy"]
    warm_text = space_yaml().replace("crop_padding: 1}", "crop_padding: 1, warm_start: {epochs: 3}}")
    warm = load_space(write(tmp_path, warm_text))
    assert warm.proxy.warm_start is not None and warm.proxy.warm_start.epochs == 3
    assert warm.identity()["proxy"]["warm_start"] == {"epochs": 3}
    # validate-proxy's reference is a proper training: from scratch
    assert warm.train_request(warm.base_arch(), epochs=6, from_scratch=True).proxy.warm_start is None
    assert warm.train_request(warm.base_arch()).proxy.warm_start == warm.proxy.warm_start
    for bad in ("{epochs: 0}", "{epochs: two}", "{epochs: 3, lr: 0.1}", "7"):
        with pytest.raises(NasAttnError, match="warm_start"):
            load_space(
                write(
                    tmp_path,
                    space_yaml().replace("crop_padding: 1}", f"crop_padding: 1, warm_start: {bad}}}"),
                )
            )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NasAttnError, match="search space file not found: .*nope.yaml"):
        load_space(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nstages: {layer1: [se\n")
    with pytest.raises(NasAttnError, match=r"YAML syntax error in search space .* at line \d+"):
        load_space(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "name: x\nstages: {layer1: {module: [se, sqeeze]}}\n",
            "stages.layer1.module: unknown attention module 'sqeeze'",
        ),
        ("name: x\nstages: {layer1: {module: [se]}}\nproxy: {epochs: 0}\n", "proxy.epochs"),
        ("name: x\nstages: {layer1: {module: [se]}}\nprox: {}\n", "prox: unknown key"),
        ("name: x\nstages: {layer7: {module: [se]}}\n", "stages.layer7: unknown stage"),
        (
            "name: x\nstages: {layer1: {module: [se], reduction: [4, 128]}}\n",
            "stages.layer1.reduction: [128] exceed 64",
        ),
        (
            "name: x\nstages: {layer1: {module: [se]}}\nobjectives: [{name: speed, direction: minimize}]\n",
            "unknown objective",
        ),
        (
            "name: x\nstages: {layer1: {module: [se]}}\nproxy: {dataset: imagenet}\n",
            "unknown dataset 'imagenet'",
        ),
        ("name: 'bad name'\nstages: {layer1: {module: [se]}}\n", "not a valid study name"),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ],
)
def test_invalid_spaces_give_key_paths(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(NasAttnError) as err:
        load_space(write(tmp_path, text))
    assert fragment in str(err.value)


def test_reduction_is_only_sampled_for_modules_that_use_it(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    arch = sample_arch(
        optuna.trial.FixedTrial(
            {
                "layer1.module": "eca",
                "layer1.position": "block",
                "layer2.module": "se",
                "layer2.reduction": 4,
                "layer2.position": "block",
            }
        ),
        space,
    )
    assert arch.stages["layer1"].reduction is None and arch.stages["layer2"].reduction == 4
    assert arch.image_size == 8 and arch.num_classes == 10
    study = optuna.create_study(directions=space.directions, sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        arch = sample_arch(trial, space)
        for stage in ("layer1", "layer2"):
            module = trial.params[f"{stage}.module"]
            assert (f"{stage}.reduction" in trial.params) == (module in {"se", "cbam"})
            assert arch.stages[stage].module == module
        study.tell(trial, [0.5, 1.0])


def test_a_module_choice_that_cannot_be_built_is_refused_at_load(tmp_path: Path) -> None:
    stages = "  layer1: {module: [none, se, shuffle], reduction: [16]}\n"
    with pytest.raises(NasAttnError) as err:
        load_space(write_space(tmp_path, space_yaml(stages)))
    message = str(err.value)
    assert "channels 64 must be divisible by 2*groups=128" in message
    assert "drop 'shuffle' from stages.layer1.module or change the choice" in message
    assert message.count("drop '") == 1  # one problem per module, not one per position x reduction
