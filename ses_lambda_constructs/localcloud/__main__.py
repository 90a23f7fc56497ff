"""``python -m ses_lambda_constructs.localcloud``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
