"""Small helpers shared by the attention families (not API).

``zero_init_bn`` implements the zero-initialised last BN of Goyal et al. ("Accurate, Large
Minibatch SGD", arXiv:1706.02677), the usual ResNet-recipe trick (timm's ``zero_init_last``) and
what the Non-local paper prescribes for its W_z: a feature-replacing branch F ends in a BN whose
scale gamma starts at 0, and the module returns ``x + BN(F(x))``, so a freshly built network sees
the identity at init and the branch is learned from there. Where a paper's block has no such
residual (SK, CoT, MobileViT, S2, ParNet, MHSA, split attention) this is our addition, needed
because our slot sits inside a block whose other layers are already initialised.
"""

from __future__ import annotations

from torch import nn

from nas_attn.exceptions import NasAttnError


def zero_init_bn(channels: int) -> nn.BatchNorm2d:
    """A BatchNorm2d whose scale gamma (and shift beta) start at zero."""
    bn = nn.BatchNorm2d(channels)
    nn.init.zeros_(bn.weight)
    nn.init.zeros_(bn.bias)
    return bn


def divisors(n: int) -> list[int]:
    """All positive divisors of ``n`` (for error messages that list the allowed values)."""
    return [d for d in range(1, n + 1) if n % d == 0]


def require_divisible(module: str, channels: int, divisor: int, what: str, fix: str = "") -> None:
    """Raise a NasAttnError unless ``channels`` is divisible by ``divisor``.

    Args:
        module: registry name, used as the message prefix.
        channels: the value that must be divisible.
        divisor: what it must be divisible by.
        what: how the divisor is spelled in the message, e.g. ``"2*groups=16"``.
        fix: optional hint appended to the message, e.g. the allowed option values.
    """
    if divisor < 1 or channels % divisor:
        hint = f"; {fix}" if fix else ""
        raise NasAttnError(f"{module}: channels {channels} must be divisible by {what}{hint}")


def require_positive(module: str, **values: int) -> None:
    """Raise a NasAttnError for any non-positive integer option."""
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise NasAttnError(f"{module}: {key} must be a positive integer, got {value!r}")
