"""Stop promptly with live streams open.

uvicorn stops on SIGTERM/SIGINT by closing its sockets and then waiting for every open
connection to finish *before* it runs the lifespan shutdown; an SSE stream never finishes by
itself, so a dashboard tab held the API up indefinitely. ``on_exit_signal`` chains a handler in
front of the server's own (installed before the app's startup runs) that first tells the
streams to end, then lets the server shut down as it would.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Callable

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_exit_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` in the running loop on SIGTERM/SIGINT, then the previous handler.

    Returns a function that puts the previous handlers back. Signals are only handled in the
    main thread; elsewhere (a server run in a test's thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {}
    for sig in SIGNALS:
        before = signal.getsignal(sig)
        if not callable(before):  # default or ignored: not under a server that handles it
            continue

        def handler(signum, frame, before=before):
            loop.call_soon_threadsafe(callback)
            before(signum, frame)

        previous[sig] = before
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            signal.signal(sig, before)

    return restore
