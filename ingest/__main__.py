"""`python -m ingest --config FILE`: the same as `hookpipe ingest --config FILE`."""

import sys

from hookpipe.cli import main

sys.exit(main(["ingest", *sys.argv[1:]]))
