"""`python -m deliverer [--config FILE]`: the same as `hookpipe deliverer [--config FILE]`."""

import sys

from deliverer.service import DelivererService
from hookpipe.runtime.service import main

sys.exit(main("deliverer", DelivererService, sys.argv[1:]))
