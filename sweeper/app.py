"""The broker and actor of a worker process, configured from the environment.

The dramatiq CLI imports `sweeper.app:broker` in each worker process after forking it.
"""

from holdfast_common.observability.logs import configure_logging
from holdfast_common.settings import SweeperProcessSettings
from sweeper.actors import declare
from sweeper.broker import make_broker

settings = SweeperProcessSettings.from_environment()
configure_logging(settings.observability.log_level)
broker = make_broker(settings.sweeper)
expire_holds = declare(broker, settings)
