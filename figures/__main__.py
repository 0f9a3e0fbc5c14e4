import sys

from kdtheory.figures.cli import main

sys.exit(main())
