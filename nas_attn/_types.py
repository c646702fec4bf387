"""Strict, finite field types for every YAML/JSON config: no bool-as-number (``epochs: true``),
no numeric strings, no NaN or infinity, and seeds in the range every RNG accepts."""

from __future__ import annotations

from typing import Annotated

from pydantic import AllowInfNan, Field, Strict

SEED_MAX = 2**32 - 1  # numpy's and CUDA's generators take seeds in 0 .. 2**32 - 1

#: An integer written as one (``3``, not ``3.0``, ``"3"`` or ``true``).
Int = Annotated[int, Strict()]
#: A finite number (an integer is accepted: ``lr: 1``).
Float = Annotated[float, Strict(), AllowInfNan(False)]
#: A boolean written as one (``true``/``false``, not ``1`` or ``"yes"``).
Bool = Annotated[bool, Strict()]
#: A seed every RNG accepts.
Seed = Annotated[int, Strict(), Field(ge=0, le=SEED_MAX)]
