import sys

from zoneindex.cli import main

sys.exit(main())
