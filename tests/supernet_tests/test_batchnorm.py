"""BatchNorm re-fitting: only BatchNorm buffers change, only on the active path, deterministically."""

from __future__ import annotations

import pytest
import torch
from support.supernet import IMAGE_SIZE, make_space, randomize
from torch.nn.modules.batchnorm import _BatchNorm

from nas_attn.exceptions import NasAttnError
from nas_attn.supernet import Supernet, path_norms, refit_bn

PATH = (1, 2)  # layer1: se/4 (a private bn2 per block); layer3: gc/8


@pytest.fixture(scope="module")
def supernet() -> Supernet:
    space = make_space(
        {
            "layer1": {"module": ["none", "se", "cbam"], "reduction": [4]},
            "layer3": {"module": ["none", "coord", "gc"], "reduction": [8]},
        }
    )
    net = Supernet(space, seed=4)
    randomize(net, seed=9)
    return net.eval()


def images(seed: int, n: int = 12) -> torch.Tensor:
    return torch.randn(n, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(seed))


def snapshot(net: Supernet) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def bn_buffer_names(net: Supernet, norms: list[_BatchNorm]) -> set[str]:
    ids = {id(n) for n in norms}
    return {
        f"{name}.{buf}"
        for name, module in net.named_modules()
        if id(module) in ids
        for buf, _ in module.named_buffers(recurse=False)
    }


def test_refit_changes_only_the_active_paths_batchnorm_buffers(supernet: Supernet) -> None:
    before = snapshot(supernet)
    refit_bn(supernet, PATH, images(0), batch_size=5)
    after = supernet.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    on_path = bn_buffer_names(supernet, path_norms(supernet))
    assert changed <= on_path  # no parameter, no other buffer, nothing off the path
    # every running mean/var on the path was re-fitted; num_batches_tracked counts the 3 batches
    assert {k for k in on_path if k.endswith(("running_mean", "running_var"))} <= changed
    assert all(after[k].item() == 3 for k in on_path if k.endswith("num_batches_tracked"))
    # the candidates off the path kept their buffers bit for bit, the private bn2 copies included
    off_path = [
        k
        for k in before
        if k.startswith("slots.")
        and not k.startswith(("slots.layer1.candidates.1.", "slots.layer3.candidates.2."))
    ]
    assert any(".norms." in k and k.endswith("running_mean") for k in off_path)
    assert all(torch.equal(before[k], after[k]) for k in off_path)
    assert not supernet.training and all(n.momentum == 0.1 for n in path_norms(supernet))


def test_refit_is_an_exact_average_and_deterministic(supernet: Supernet) -> None:
    refit_bn(supernet, PATH, images(1), batch_size=4)
    first = snapshot(supernet)
    supernet.activate((0, 0))  # fit another path in between: PATH's statistics must not depend on it
    refit_bn(supernet, (0, 0), images(2), batch_size=4)
    refit_bn(supernet, PATH, images(1), batch_size=4)
    second = supernet.state_dict()
    shared_and_path = bn_buffer_names(supernet, path_norms(supernet))
    assert all(torch.equal(first[k], second[k]) for k in shared_and_path)
    stem = supernet.net.get_submodule("bn1")
    assert isinstance(stem, _BatchNorm) and stem.running_mean is not None
    conv = supernet.net.get_submodule("conv1")
    with torch.no_grad():  # cumulative average of the 3 batch means (batches 4, 4, 4)
        feats = conv(images(1))
        expected = torch.stack([feats[i : i + 4].mean(dim=(0, 2, 3)) for i in (0, 4, 8)]).mean(0)
    assert torch.allclose(stem.running_mean, expected, rtol=0, atol=1e-6)


def test_refit_needs_images(supernet: Supernet) -> None:
    with pytest.raises(NasAttnError, match="at least one image"):
        refit_bn(supernet, PATH, images(0, n=0), batch_size=4)
