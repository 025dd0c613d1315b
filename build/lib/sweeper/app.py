"""The broker and actor of a worker process, configured from the environment.

The dramatiq CLI imports `sweeper.app:broker` in each worker process after forking it.
"""

from holdfast_common.observability.logs import configure_logging
from holdfast_common.settings import get_settings
from sweeper.actors import declare
from sweeper.broker import make_broker

settings = get_settings()
configure_logging(settings.log_level)
broker = make_broker(settings)
expire_holds = declare(broker, settings)
