"""`invtrack ofs-poll`: pull OFS events until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from adapters.ofs.client import OfsRejected
from api.services.polling import poll_until_stopped, poller_config
from api.settings import Settings

log = logging.getLogger("invtrack.ofs")


def ofs_poll(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(run_ofs_poll(settings))


async def run_ofs_poll(settings: Settings) -> int:
    try:
        config = poller_config(settings.ofs)
    except ValueError as error:
        print(f"invtrack: {error}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await poll_until_stopped(config, settings, stop)
    except OfsRejected as error:
        log.error("OFS refused the poller: %s; check the credentials and permissions", error)
        return 1
    return 0
