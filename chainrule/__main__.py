"""``python -m chainrule``: the ``chainrule`` command (``chainrule/__init__.py`` has already set
its Ctrl-C guard by the time this runs)."""

import sys

from chainrule.cli.main import main

sys.exit(main())
