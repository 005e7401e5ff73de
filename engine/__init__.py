"""chainrule's engine: expressions become circuits with a value and a gradient on every wire.

    >>> from engine import trace
    >>> c = trace("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    >>> float(c.value), {k: float(v) for k, v in c.gradients.items()}
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})
"""

from engine.backcheck import backward_check
from engine.circuit import Circuit, trace
from engine.descent import descent
from engine.errors import ExpressionError
from engine.graph import Graph, Limits

__all__ = ["Circuit", "ExpressionError", "Graph", "Limits", "backward_check", "descent",
           "trace"]
