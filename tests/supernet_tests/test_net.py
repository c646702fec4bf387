"""The supernet's slots, what each candidate owns, and extraction to a build_model network."""

from __future__ import annotations

import pytest
import torch
from support.supernet import IMAGE_SIZE, make_space, randomize

from nas_attn import ArchConfig, build_model
from nas_attn.backbones import StagePlacement
from nas_attn.exceptions import NasAttnError
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.supernet import Supernet, extract
from nas_attn.supernet.net import Candidate, Slot

ALL = ["none", "se", "eca", "cbam", "simam", "triplet", "coord", "gc"]
MIXED = {f"layer{i}": {"module": ALL, "reduction": [4, 16]} for i in range(1, 5)}


@pytest.fixture(scope="module")
def supernet() -> Supernet:
    net = Supernet(make_space(MIXED), seed=7)
    randomize(net, seed=1)
    return net.eval()


def arch(stages: dict[str, dict[str, object]]) -> ArchConfig:
    return ArchConfig(image_size=IMAGE_SIZE, stages=stages)


def test_each_slot_holds_every_valid_choice_and_masks_the_rest(supernet: Supernet) -> None:
    # none, eca, simam, triplet once; se, cbam, coord, gc at r=4 and r=16: 12 choices
    assert supernet.slot_sizes == (12, 12, 12, 11)
    layer4 = supernet.slot_choices[3]
    assert [m.placement.module for m in layer4.masked] == ["simam"]  # 1x1 map at 8 px
    assert "at least 2 pixels" in layer4.masked[0].reason
    labels = [c.label() for c in supernet.slot_choices[0].candidates]
    assert labels == [
        "none",
        "se/4",
        "se/16",
        "eca",
        "cbam/4",
        "cbam/16",
        "simam",
        "triplet",
        "coord/4",
        "coord/16",
        "gc/4",
        "gc/16",
    ]


def test_each_candidate_owns_a_private_last_bn_per_block_and_its_modules() -> None:
    net = Supernet(make_space({"layer2": {"module": ["none", "se", "cbam"], "reduction": [8]}}), seed=0)
    slot = net.slots["layer2"]
    assert isinstance(slot, Slot)
    norms = [norm for cand in slot.candidates for norm in cand.norms]  # type: ignore[union-attr]
    assert len(norms) == 6 and len({id(n) for n in norms}) == 6  # 3 candidates x 2 blocks
    for norm in norms:  # initialised like timm's zero_init_last bn2
        assert torch.equal(norm.weight, torch.zeros(128)) and torch.equal(norm.bias, torch.zeros(128))
    none, se, cbam = (c for c in slot.candidates if isinstance(c, Candidate))
    assert len(none.block_attn) == 0 and sorted(se.block_attn) == ["0", "1"]
    assert se.block_attn["0"] is not se.block_attn["1"] and sorted(cbam.block_attn) == ["0", "1"]
    shared = net.net.state_dict()
    assert not any(key.startswith("layer2.") and ".bn2." in key for key in shared)  # only in candidates
    assert sum(key.startswith("layer1.") and ".bn2." in key for key in shared) == 2 * 5  # not searched
    private = [key for key in net.state_dict() if key.startswith("slots.")]
    assert sum(".norms." in key for key in private) == 6 * 5  # weight, bias, 3 buffers each


def test_at_initialisation_a_path_holds_build_models_seeded_weights() -> None:
    space = make_space(
        {
            "layer1": {"module": ["none", "se", "eca"], "reduction": [4]},
            "layer3": {"module": ["cbam", "gc"], "reduction": [8]},
        }
    )
    net = Supernet(space, seed=11)
    for stages in (
        {"layer1": {"module": "se", "reduction": 4}, "layer3": {"module": "gc", "reduction": 8}},
        {"layer1": {"module": "eca"}, "layer3": {"module": "cbam", "reduction": 8}},
    ):
        expected = build_model(arch(stages), seed=11).state_dict()
        got = extract(net, arch(stages)).state_dict()
        assert list(got) == list(expected)
        assert all(torch.equal(got[k], expected[k]) for k in expected), stages


PLACEMENTS = [
    {},
    {f"layer{i}": {"module": "se", "reduction": 4} for i in range(1, 5)},
    {
        "layer1": {"module": "cbam", "reduction": 16},
        "layer2": {"module": "simam"},
        "layer3": {"module": "coord", "reduction": 4},
        "layer4": {"module": "gc", "reduction": 16},
    },
    {
        "layer1": {"module": "triplet"},
        "layer2": {"module": "eca"},
        "layer4": {"module": "coord", "reduction": 16},
    },
]


@pytest.mark.parametrize("stages", PLACEMENTS, ids=["none", "se", "mixed", "gated-mix"])
def test_extracted_network_computes_exactly_what_its_path_computes(
    supernet: Supernet, stages: dict[str, dict[str, object]]
) -> None:
    placement = arch(stages)
    x = torch.randn(4, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(3))
    supernet.activate(placement)
    model = extract(supernet, placement).eval()
    assert set(model.state_dict()) == set(build_model(placement, seed=0).state_dict())
    with torch.no_grad():
        expected, got = supernet(x), model(x)
    assert torch.allclose(got, expected, rtol=0, atol=1e-6)
    assert expected.abs().max() > 1e-3  # the randomized weights make paths differ
    others = [p for p in PLACEMENTS if p != stages]
    supernet.activate(arch(others[0]))
    with torch.no_grad():
        assert not torch.allclose(supernet(x), expected, atol=1e-4)


def test_other_positions_extract_exactly_too() -> None:
    space = make_space(
        {
            "layer2": {
                "module": ["none", "se", "eca"],
                "reduction": [8],
                "position": ["last_block", "stage_out"],
            }
        }
    )
    net = Supernet(space, seed=2)
    randomize(net, seed=5)
    net.eval()
    assert net.slot_sizes == (5,)
    x = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(0))
    for position in ("last_block", "stage_out"):
        placement = arch({"layer2": {"module": "se", "reduction": 8, "position": position}})
        net.activate(placement)
        model = extract(net, placement).eval()
        with torch.no_grad():
            assert torch.allclose(model(x), net(x), rtol=0, atol=1e-6)


def test_placements_outside_the_space_are_refused(supernet: Supernet) -> None:
    with pytest.raises(NasAttnError, match="not a candidate"):
        supernet.activate(arch({"layer4": {"module": "simam"}}))
    with pytest.raises(NasAttnError, match="image size"):
        supernet.activate(ArchConfig(image_size=16))
    assert supernet.path(supernet.placement((3, 0, 1, 2))) == (3, 0, 1, 2)
    assert supernet.placement((1, 0, 0, 0)).stages["layer1"] == StagePlacement(module="se", reduction=4)


def test_backbones_without_a_resnet_block_norm_are_refused() -> None:
    space = SearchSpace(
        name="regnet",
        backbone={"name": "regnetx_002"},
        stages={"s1": {"module": ["none", "se"]}},
        proxy={"image_size": 16},
    )
    with pytest.raises(NasAttnError, match="supernets need timm ResNet blocks"):
        Supernet(space, seed=0)
