import pytest
import torch

from nas_attn.attention import describe_zoo, list_attentions


def test_describe_zoo_reports_every_module_with_costs_or_a_reason() -> None:
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    rows = describe_zoo(32, 8, repeats=1)
    assert torch.equal(torch.get_rng_state(), state)  # no global side effect
    assert torch.get_num_threads() == threads
    by_name = {row.name: row for row in rows}
    assert [row.name for row in rows] == list_attentions()

    none, se = by_name["none"], by_name["se"]
    assert (none.params, none.macs) == (0, 0)
    assert se.reduction == 16 and se.params == 2 * 32 * 2 + 2 + 32  # 2C^2/r + C/r + C
    assert se.macs == 2 * 32 * 2  # two 1x1 convs on the pooled vector
    assert by_name["coord"].reduction == 32 and by_name["eca"].reduction is None
    assert by_name["cross"].params == 2 * 32**2 + 2 * 32 * 16 + 32 + 1  # context has C // 2 channels
    assert by_name["mhsa"].macs is not None and by_name["mhsa"].macs > 3 * 32**2 * 64

    shuffle = by_name["shuffle"]  # C = 32 cannot take the paper's G = 64
    assert shuffle.params is None and shuffle.latency_ratio is None and "use groups in" in shuffle.note
    measured = [row for row in rows if row.params is not None]
    assert len(measured) == len(rows) - 1
    for row in measured:
        assert row.note == "" and row.latency_ratio is not None and row.latency_ratio > 0
        assert row.latency_ms is not None and row.paper
    # calibrated: every row is its ratio times one identity timing, the least noisy one measured
    reference = min(measured, key=lambda r: (round(r.reference_noise, 9), r.reference_ms))
    for row in measured:
        assert row.latency_ms == pytest.approx(row.latency_ratio * reference.reference_ms)
        assert row.latency_raw_ms == pytest.approx(row.latency_ratio * row.reference_ms)
