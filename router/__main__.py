"""`python -m router --config FILE`: the same as `hookpipe router --config FILE`."""

import sys

from hookpipe.cli import main

sys.exit(main(["router", *sys.argv[1:]]))
