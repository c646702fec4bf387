"""The search summary's warning about a short from-scratch proxy that finds only the plain backbone."""

from __future__ import annotations

from nas_attn.backbones import ArchConfig
from nas_attn.search.results import TrialRow
from nas_attn.search.usecases.proxy_bias import MEASURED_STEPS, proxy_steps, short_proxy_warning
from nas_attn.worker.config import ProxyConfig, WarmStart

FASHION = ProxyConfig(image_size=16, train_subset=5000, epochs=2, batch_size=64)


def _row(number: int, module: str) -> TrialRow:
    arch = ArchConfig.from_dict({"stages": {"layer1": {"module": module}, "layer2": {"module": "none"}}})
    return TrialRow(number, {"accuracy": 0.7}, 1, arch.label(), None, arch)


def test_a_plain_only_front_from_a_short_scratch_proxy_is_warned_about_with_its_steps() -> None:
    assert proxy_steps(FASHION) == 158 and MEASURED_STEPS == 948
    warning = short_proxy_warning([_row(0, "none")], FASHION)
    assert warning is not None and "158 steps" in warning and "proxy.warm_start" in warning
    digits = ProxyConfig(epochs=3)  # no subset: the step count is not known without the data
    assert "3 epochs" in (short_proxy_warning([_row(0, "none")], digits) or "")


def test_no_warning_when_attention_is_on_the_front_the_proxy_warm_starts_or_is_long() -> None:
    assert short_proxy_warning([_row(0, "none"), _row(1, "se")], FASHION) is None
    assert short_proxy_warning([], FASHION) is None
    warm = FASHION.model_copy(update={"warm_start": WarmStart(epochs=8), "epochs": 1})
    assert short_proxy_warning([_row(0, "none")], warm) is None
    assert short_proxy_warning([_row(0, "none")], FASHION.model_copy(update={"epochs": 12})) is None
