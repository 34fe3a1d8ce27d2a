"""`python -m deliverer --config FILE`: the same as `hookpipe deliverer --config FILE`."""

import sys

from hookpipe.cli import main

sys.exit(main(["deliverer", *sys.argv[1:]]))
