"""`python -m ingest [--config FILE]`: the same as `hookpipe ingest [--config FILE]`."""

import sys

from hookpipe.runtime.service import main
from ingest.app import IngestService

sys.exit(main("ingest", IngestService, sys.argv[1:]))
