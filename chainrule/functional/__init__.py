"""Functions that layers are made of (``cr.nn.functional``, imported as ``F``).

Each is a composition of primitive ops, or a fused op where numerics ask for one (the losses).
One import line per file, so that each concern can add its names without touching the others.
"""

from chainrule.functional.normalization import batch_norm, layer_norm
