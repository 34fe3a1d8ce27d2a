"""`python -m router [--config FILE]`: the same as `hookpipe router [--config FILE]`."""

import sys

from hookpipe.runtime.service import main
from router.service import RouterService

sys.exit(main("router", RouterService, sys.argv[1:]))
