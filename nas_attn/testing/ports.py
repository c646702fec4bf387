"""A free loopback TCP port for the servers the tests start (PostgreSQL, the dashboard)."""

from __future__ import annotations

import socket


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 now; another process may still take it before the caller's
    server binds it (callers retry on "Address already in use")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
