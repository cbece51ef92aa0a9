"""The HTTP endpoint the benchmark workflow calls: answers 200 at once. Runs as its own process."""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web


async def _serve(port: int) -> None:
    calls = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal calls
        await request.read()
        calls += 1
        return web.json_response({"ok": True, "n": calls})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    import uvloop

    uvloop.run(_serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
