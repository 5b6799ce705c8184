"""Training runs: the loop, checkpoints and curves behind ``chainrule train``."""
