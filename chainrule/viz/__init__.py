"""Pictures of computational graphs: ``cr.viz.draw(tensor)`` with values (green) and gradients
(red), rendered by Graphviz's ``dot``.

    >>> g = cr.viz.draw(loss, modules=model)
    >>> g.save("step.png")      # or .svg, .pdf, .dot; Jupyter shows g inline
"""

from chainrule.viz.draw import draw
from chainrule.viz.labels import short
from chainrule.viz.render import Graph, GraphvizNotFoundError, dot_binary

__all__ = ["Graph", "GraphvizNotFoundError", "dot_binary", "draw", "short"]
