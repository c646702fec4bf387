"""A ``--ray-address`` is checked with a bounded TCP connect before Ray is asked to join it.

``ray.init(address=...)`` retries a closed or filtered port for minutes; a plain connect with a
timeout answers in seconds, with one line that says how to fix it.
"""

from __future__ import annotations

import socket

from nas_attn.exceptions import NasAttnError

CONNECT_TIMEOUT_S = 5.0
LOCAL_NAMES = ("auto", "local")


def parse_ray_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT`` (IPv6 hosts in brackets)."""
    target = address.strip().removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NasAttnError(
            f"--ray-address '{address}' is not HOST:PORT, ray://HOST:PORT or auto; "
            "e.g. --ray-address 10.0.0.5:6379 (the head node's GCS port)"
        )
    return host, int(port)


def check_ray_address(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, within ``timeout_s``, an address where nothing accepts connections."""
    if address is None or address.strip() in LOCAL_NAMES:
        return
    host, port = parse_ray_address(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or type(exc).__name__
        raise NasAttnError(
            f"cannot reach Ray at '{address}' ({reason} within {timeout_s:g} s); start the head node "
            "(ray start --head) or fix --ray-address"
        ) from None
