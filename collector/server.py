"""Run the collector: open storage, build the app, serve it with one uvicorn worker.

Over embedded chDB the collector must be a single process (one engine per data directory), so there is no
``--workers`` option here; concurrency comes from asyncio and the thread pool.
"""

from __future__ import annotations

import logging

from tracehouse.storage import Store

from .app import create_app
from .settings import Settings

logger = logging.getLogger("tracehouse.collector")


def serve(settings: Settings) -> None:
    import uvicorn

    store = Store.open(settings.storage_url)
    logger.info("storage ready: %s", store.target.describe())
    app = create_app(settings, store)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False,
                    timeout_graceful_shutdown=10)
    finally:
        store.close()
