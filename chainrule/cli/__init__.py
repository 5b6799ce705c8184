"""The ``chainrule`` command line: train, eval, datasets, explain, and more."""
