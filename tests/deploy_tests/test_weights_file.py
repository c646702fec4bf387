"""A ``.safetensors`` weights file is data only: load_safetensors checks its metadata and its
tensors against the arch before use, and never opens a file the metadata names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from nas_attn import ArchConfig, NasAttnError, build_model
from nas_attn.deploy import load_safetensors, write_safetensors
from nas_attn.deploy.weights_file import safetensors_metadata

# parameter-free modules: the same tensors fit both networks, only the arch tells them apart
SIMAM = ArchConfig(image_size=8, stages={"layer2": {"module": "simam"}})
NONE = ArchConfig(image_size=8, stages={})
SE = ArchConfig(image_size=8, stages={"layer2": {"module": "se", "reduction": 8}})


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """m.safetensors of SIMAM's network (fresh weights) as nas-attn writes it."""
    path = tmp_path_factory.mktemp("weights") / "m.safetensors"
    torch.manual_seed(0)
    write_safetensors(build_model(SIMAM).eval(), SIMAM, path)
    return path


def rewrite(
    source: Path,
    dest: Path,
    arch: dict[str, object] | str | None = None,
    tensors: dict[str, torch.Tensor] | None = None,
    **metadata: str,
) -> Path:
    """``source`` saved again as ``dest`` with the arch JSON, the tensors or metadata entries
    replaced (the rest as written)."""
    meta = safetensors_metadata(SIMAM)
    if arch is not None:
        meta["arch"] = arch if isinstance(arch, str) else json.dumps(arch)
    save_file(
        tensors if tensors is not None else load_file(str(source)), str(dest), metadata={**meta, **metadata}
    )
    return dest


def refused(path: Path, fragment: str, arch: ArchConfig | None = None) -> str:
    with pytest.raises(NasAttnError) as err:
        load_safetensors(path, arch)
    assert fragment in str(err.value), str(err.value)
    return str(err.value)


def test_the_written_file_rebuilds_its_network(written: Path) -> None:
    model = load_safetensors(written, SIMAM)
    torch.manual_seed(0)
    reference = build_model(SIMAM).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_metadata_naming_another_parameter_free_network_is_caught_by_the_digest_or_the_pin(
    written: Path, tmp_path: Path
) -> None:
    # the tensors fit both networks: without the digest the other network would load silently
    swapped = rewrite(written, tmp_path / "a.safetensors", NONE.to_dict())
    refused(swapped, "its metadata was edited (the arch does not match its digest)")
    forged = rewrite(written, tmp_path / "b.safetensors", NONE.to_dict(), arch_digest=NONE.digest())
    message = refused(forged, "holds weights of another network (stages.layer2", arch=SIMAM)
    assert "in the file" in message and message.endswith("pass the weights file of this arch")


def test_metadata_naming_a_module_with_weights_is_refused_by_the_tensors(
    written: Path, tmp_path: Path
) -> None:
    other = rewrite(written, tmp_path / "se.safetensors", SE.to_dict(), arch_digest=SE.digest())
    refused(other, "does not fit the arch's network (missing 8 tensor(s), e.g. layer2.0.se.fc1.weight")


def test_metadata_never_names_a_file_to_open(
    written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a weights file made nas-attn open a file its metadata names")

    monkeypatch.setattr(torch, "load", never)
    payload = tmp_path / "payload.pt"
    payload.write_bytes(b"\x80\x04 a pickle that must not be read")
    for target in ("/etc/shadow", str(payload)):
        data = {**SIMAM.to_dict(), "backbone_weights": target}
        path = rewrite(written, tmp_path / "bw.safetensors", data)
        refused(path, "its metadata names a file to open (backbone_weights); a weights file is data only")


@pytest.mark.parametrize(
    ("arch_json", "fragment"),
    [
        ("{not json", "the arch in its metadata is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON (or nested too deep)"),
        ('["resnet18"]', "the arch in its metadata is not a mapping"),
        (
            '{"backbone": "resnet18", "stages": {"layer2": {"module": "nope"}}}',
            "the arch in its metadata is not valid",
        ),
    ],
    ids=["bad-json", "deep-nesting", "not-a-mapping", "invalid-arch"],
)
def test_metadata_that_is_not_an_arch_is_refused(
    written: Path, tmp_path: Path, arch_json: str, fragment: str
) -> None:
    refused(rewrite(written, tmp_path / "m.safetensors", arch_json), fragment)


def test_tensors_are_checked_by_name_shape_and_dtype(written: Path, tmp_path: Path) -> None:
    good = load_file(str(written))
    extra = rewrite(written, tmp_path / "extra.safetensors", tensors={**good, "evil.weight": torch.zeros(1)})
    refused(extra, "1 unexpected, e.g. evil.weight")
    missing = rewrite(
        written, tmp_path / "missing.safetensors", tensors={k: v for k, v in good.items() if k != "fc.bias"}
    )
    refused(missing, "missing 1 tensor(s), e.g. fc.bias")
    shape = rewrite(
        written, tmp_path / "shape.safetensors", tensors={**good, "fc.weight": torch.zeros(10, 3)}
    )
    refused(shape, "1 tensor(s) differ in shape, e.g. fc.weight: (10, 3) vs (10, 512)")
    wide = {k: v.double() if v.is_floating_point() else v for k, v in good.items()}
    message = refused(
        rewrite(written, tmp_path / "dtype.safetensors", tensors=wide), "differ in dtype, e.g. "
    )
    assert ": float64 vs float32" in message
    classes = rewrite(written, tmp_path / "classes.safetensors", num_classes="3")
    refused(classes, "its metadata disagrees on num_classes")


def test_files_that_are_not_nas_attn_weights_are_refused(written: Path, tmp_path: Path) -> None:
    (tmp_path / "junk.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    refused(tmp_path / "junk.safetensors", "cannot read")
    (tmp_path / "cut.safetensors").write_bytes(written.read_bytes()[:5000])
    refused(tmp_path / "cut.safetensors", "cannot read")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(1)}, str(foreign))
    refused(foreign, "was not written by nas-attn (no arch in its metadata)")
    refused(tmp_path / "nope.safetensors", "weights file not found (or not a file)")
    refused(tmp_path, "weights file not found (or not a file)")
