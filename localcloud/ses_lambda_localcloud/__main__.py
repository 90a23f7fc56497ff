"""``python -m ses_lambda_localcloud`` (the same as ``ses-localcloud``): see ``cli``."""

import sys

from .cli import main

sys.exit(main())
