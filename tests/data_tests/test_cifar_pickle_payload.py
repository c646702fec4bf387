"""A CIFAR folder with a crafted pickle is refused, and the payload never runs."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from support.cifar_files import plant_payload, write_cifar10, write_cifar100

from nas_attn import NasAttnError
from nas_attn.data import get_dataset_spec, load_dataset
from nas_attn.data.safe_pickle import UnsafePickleError, load_data_pickle


def test_the_payload_would_run_with_the_standard_unpickler(tmp_path: Path) -> None:
    """Guard: the planted file really is hostile (so the tests below can fail)."""
    marker = tmp_path / "ran.txt"
    plant_payload(tmp_path / "payload", marker)
    with (tmp_path / "payload").open("rb") as f:
        pickle.load(f)
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("victim", ["batches.meta", "data_batch_1", "test_batch"])
def test_a_cifar10_payload_is_refused_unrun(tmp_path: Path, victim: str) -> None:
    folder = write_cifar10(tmp_path / "data")
    marker = tmp_path / "ran.txt"
    plant_payload(folder / victim, marker)
    refused = rf"refused .*{victim}: it names (__builtin__|builtins)\.exec.*it was not run"
    with pytest.raises(NasAttnError, match=refused):
        load_dataset(f"cifar10:{folder}", 8)
    assert not marker.exists()


def test_a_cifar100_meta_payload_is_refused_at_validation(tmp_path: Path) -> None:
    folder = write_cifar100(tmp_path / "data")
    marker = tmp_path / "ran.txt"
    plant_payload(folder / "meta", marker)
    with pytest.raises(NasAttnError, match="official cifar-100-python archive"):
        get_dataset_spec(f"cifar100:{folder}")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_data_and_numpy_arrays_still_load(tmp_path: Path, protocol: int) -> None:
    obj = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), "n": [1, 2.5, None, True], "s": (b"x", "y")}
    obj["scalar"] = np.int64(7)
    path = tmp_path / "plain"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    back = load_data_pickle(path)
    assert back[b"data"].tolist() == obj[b"data"].tolist() and back["n"] == [1, 2.5, None, True]
    assert back["s"] == (b"x", "y") and back["scalar"] == 7


@pytest.mark.parametrize("target", ["os.system", "subprocess.Popen", "builtins.eval", "numpy.load"])
def test_every_other_global_is_refused(tmp_path: Path, target: str) -> None:
    module, name = target.rsplit(".", 1)
    path = tmp_path / "evil"
    path.write_bytes(f"c{module}\n{name}\n(S'true'\ntR.".encode())
    with pytest.raises(UnsafePickleError, match=f"it names {target}"):
        load_data_pickle(path)
