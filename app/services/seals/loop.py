"""pyhanko's synchronous calls (signing, validation) run ``asyncio.run`` inside. A Flask request thread has
no event loop and calls them directly; a thread that already runs one (a caller embedding the app in an
asyncio program, Playwright's sync API in the tests) would get "asyncio.run() cannot be called from a
running event loop" — there the call runs on a short-lived worker thread instead."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


def outside_event_loop(fn, *args, **kwargs):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as pool:
        return pool.submit(fn, *args, **kwargs).result()
