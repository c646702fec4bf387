"""StopRequests counts every press, even those that arrive while the main thread is in C code."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time

import pytest

from nas_attn.search.interrupts import ABORT, FINISH, STOP_NOW, StopRequests, requested_level


def _press_during_c_call(presses: int, gap_s: float = 0.05) -> None:
    """Send this process ``presses`` SIGINTs ``gap_s`` apart from another thread while the main
    thread is inside one long C call that never returns to the interpreter (as it is inside Ray's
    ``ray.wait``), so Python runs the handler only once the call ends."""

    def press() -> None:
        time.sleep(0.1)
        for _ in range(presses):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(gap_s)

    presser = threading.Thread(target=press)
    presser.start()
    hashlib.pbkdf2_hmac("sha256", b"press", b"salt", 2_000_000)  # one C call of about a second
    presser.join()


def test_presses_while_the_main_thread_is_in_c_code_all_count() -> None:
    with StopRequests() as stop:
        _press_during_c_call(2)
        assert stop.level == STOP_NOW  # the handler ran once; both presses counted


def test_three_fast_presses_abort() -> None:
    with StopRequests() as stop, pytest.raises(KeyboardInterrupt):
        _press_during_c_call(3)
        time.sleep(0.1)  # back in the interpreter: the handler runs and aborts
    assert stop.level >= ABORT


def test_sigterm_is_stop_now_and_presses_add_to_it() -> None:
    with StopRequests() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.level == STOP_NOW
        with pytest.raises(KeyboardInterrupt):
            for _ in range(3):
                os.kill(os.getpid(), signal.SIGINT)


def test_the_handlers_and_the_wakeup_fd_are_given_back() -> None:
    before_int, before_term = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with StopRequests() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.level == FINISH == requested_level()
    assert signal.getsignal(signal.SIGINT) is before_int and signal.getsignal(signal.SIGTERM) is before_term
    assert signal.set_wakeup_fd(-1) == -1  # none was left behind
    assert requested_level() == 0


def test_outside_the_main_thread_it_counts_nothing_and_touches_no_handler() -> None:
    seen: list[object] = []

    def run() -> None:
        with StopRequests() as stop:
            seen.append(stop.level)
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [0, signal.getsignal(signal.SIGINT)]
