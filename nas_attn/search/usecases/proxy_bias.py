"""The warning a search owes its user when a short from-scratch proxy says "no attention".

Measured with ``benches/bench_budget_bias.py`` on the Fashion-MNIST space (16 px, 5,000 images,
batch 64, paired seeds): trained from scratch for 158 steps, gating modules trail the plain
backbone by several times the gap they show after 948 steps (12 epochs), because they start by
scaling each residual branch down (SE and ECA by about 0.5, CBAM and coordinate attention by
about 0.25) and need steps to recover. A front of the plain backbone alone from such a proxy says
how fast placements recover, not what they are worth (README, "What the proxy can be trusted
for"). A warm-started proxy (``proxy.warm_start``) starts every placement from a trained backbone
and is exempt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nas_attn.search.results import TrialRow, is_plain
from nas_attn.worker.config import ProxyConfig

#: The longest from-scratch budget the Fashion-MNIST gaps were measured at (12 epochs of 5,000
#: images in batches of 64); shorter proxies overstate the gated modules' penalty.
MEASURED_STEPS = 12 * math.ceil(5000 / 64)


def proxy_steps(proxy: ProxyConfig) -> int | None:
    """Optimizer steps of one proxy training (None when the training set's size is not set)."""
    if proxy.train_subset is None:
        return None
    return math.ceil(proxy.train_subset / proxy.batch_size) * proxy.epochs


def short_proxy_warning(front: Sequence[TrialRow], proxy: ProxyConfig) -> str | None:
    """A warning when ``front`` holds only the plain backbone and ``proxy`` is a from-scratch
    training shorter than the budget the bias was measured at (else None)."""
    if not front or not all(is_plain(row.arch) for row in front) or proxy.warm_start is not None:
        return None
    steps = proxy_steps(proxy)
    if steps is not None and steps >= MEASURED_STEPS:
        return None
    length = f"{steps} steps" if steps is not None else f"{proxy.epochs} epochs"
    return (
        f"warning: the front holds only the plain backbone, from a proxy trained from scratch for {length}. "
        f"At such budgets gated modules (SE, ECA, CBAM, coordinate attention) trail the plain backbone "
        f"for how slowly they recover from scaling each residual branch at initialisation; on "
        f"Fashion-MNIST the gap was several times its size at {MEASURED_STEPS} steps "
        f"(benches/bench_budget_bias.py). Before concluding attention does not help, set "
        f"proxy.warm_start (README: 'What the proxy can be trusted for') or train the proxy longer."
    )
