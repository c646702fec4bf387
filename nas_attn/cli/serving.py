"""Serving optuna-dashboard until Ctrl-C, with Ctrl-C handled the same wherever it lands.

optuna-dashboard serves with the standard library's ``wsgiref``. A Ctrl-C that arrives while the
server idles stops it; one that arrives while it answers a request is caught by ``wsgiref``'s
request handler, which prints the ``KeyboardInterrupt``'s traceback and keeps serving. Here the
second answers that request with a plain 500 and shuts the server down, and either way the
command ends as every interrupted ``nas-attn`` command does:
:class:`~nas_attn.exceptions.Interrupted` (one line, exit 130).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import ServerHandler

from nas_attn.exceptions import Interrupted

STOPPED = "dashboard stopped (Ctrl-C); the study is unchanged: run the same command to serve it again"


class _Stop:
    """Whether a Ctrl-C reached the server (by signal, or through a request's handler)."""

    def __init__(self) -> None:
        self.interrupted = False

    def on_sigint(self, _signum: int, _frame: object) -> None:
        self.interrupted = True
        raise KeyboardInterrupt

    def handle_error(self, original: Callable[[Any], None]) -> Callable[[Any], None]:
        """``ServerHandler.handle_error`` that answers a request a Ctrl-C cut short with a plain
        500 (no traceback) and stops the server, as a Ctrl-C between requests does."""

        def handle_error(handler: Any) -> None:  # a wsgiref ServerHandler
            if not isinstance(sys.exc_info()[1], KeyboardInterrupt):
                original(handler)
                return
            self.interrupted = True
            request: Any = getattr(handler, "request_handler", None)
            server = getattr(request, "server", None)
            if request is None or server is None:
                raise KeyboardInterrupt
            threading.Thread(target=server.shutdown, daemon=True).start()  # ends serve_forever
            request.log_request = lambda *_args, **_kwargs: None  # the one line below says it all
            if not handler.headers_sent:
                with contextlib.suppress(OSError):
                    handler.result = handler.error_output(handler.environ, handler.start_response)
                    handler.finish_response()

        return handle_error


@contextlib.contextmanager
def _stop_on_ctrl_c() -> Iterator[_Stop]:
    stop = _Stop()
    original = ServerHandler.handle_error
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, stop.on_sigint) if main else None
    ServerHandler.handle_error = stop.handle_error(original)  # type: ignore[method-assign, assignment]
    try:
        yield stop
    finally:
        ServerHandler.handle_error = original  # type: ignore[method-assign]
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def serve(run_server: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """``run_server(*args, **kwargs)`` until it returns; a Ctrl-C (idle or mid-request) is
    :class:`Interrupted`, never a traceback."""
    with _stop_on_ctrl_c() as stop:
        try:
            run_server(*args, **kwargs)
        except KeyboardInterrupt:
            stop.interrupted = True
    if stop.interrupted:
        raise Interrupted(STOPPED)
