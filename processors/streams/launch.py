"""The entry point of a processor process: the batch runner, or the pipelined one for
processors that handle records one at a time (`one`)."""

from __future__ import annotations

import asyncio
import os
import signal

from infra.settings import Settings
from processors.streams.pipelined import PipelinedRunner
from processors.streams.runner import Processor, ProcessorRunner


def run_processor(settings: Settings, processor: Processor) -> None:
    """Entry point of a processor process: run until SIGTERM or SIGINT."""
    import uvloop

    async def main() -> None:
        runner: ProcessorRunner
        if hasattr(processor, "one"):
            runner = PipelinedRunner(settings, processor, instance=settings_instance())  # type: ignore[arg-type]
        else:
            runner = ProcessorRunner(settings, processor, instance=settings_instance())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.request_stop)
        await runner.run()

    uvloop.run(main())


def settings_instance() -> str:
    return os.environ.get("FLUXO_INSTANCE", "0")
