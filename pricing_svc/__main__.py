"""python -m pricing_svc: serves health and reflection until the pricing contract lands."""

import asyncio

from holdfast_common.grpc_server import serve_until_signalled, start_server
from holdfast_common.logs import configure_logging
from holdfast_common.settings import get_settings


async def _main() -> None:
    settings = get_settings()
    running = await start_server(settings.pricing_listen, lambda server: [])
    print(f"pricing_svc listening on port {running.port}", flush=True)
    await serve_until_signalled(running, settings.shutdown_grace_seconds)


if __name__ == "__main__":
    configure_logging(get_settings().log_level)
    asyncio.run(_main())
