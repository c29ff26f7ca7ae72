"""`python -m pipeline`: the seqpipe command line."""

import sys

from pipeline.cli import main

sys.exit(main())
