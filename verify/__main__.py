import sys

from kdtheory.verify.cli import main

sys.exit(main())
