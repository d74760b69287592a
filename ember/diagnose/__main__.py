"""``python -m ember.diagnose CONFIG.toml``: the ``ember doctor`` command."""
import sys

from .cli import main

sys.exit(main())
