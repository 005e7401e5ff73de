"""What a circuit will cost, known before any work: every node's shape from the input shapes, the
numbers each gate allocates, the floating-point operations of both passes, and the size of the
response. The server refuses a request over its budget with the gate that crosses it, and picks
where to run the rest (on its event loop when the work is tiny, in a worker process otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from engine.errors import ExpressionError
from engine.fns import lines_up, shape_text
from engine.graph import Graph, Limits, Node

Shape = tuple[int, ...]


def _same(node: Node, a: Shape) -> Shape:
    return a


def _broadcast(node: Node, a: Shape, b: Shape) -> Shape:
    if a == b or not b:
        return a
    if not a:
        return b
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise node.misfit((a, b)) from None


def _matmul(node: Node, a: Shape, b: Shape) -> Shape:
    try:
        lines_up(a, b)
    except ExpressionError as e:
        raise ExpressionError(e.message, *node.where) from None
    a2, b2 = (a if len(a) > 1 else (1, *a)), (b if len(b) > 1 else (*b, 1))
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise node.misfit((a, b)) from None
    return batch + a2[-2:-1] * (len(a) > 1) + b2[-1:] * (len(b) > 1)


def _scalar(node: Node, *shapes: Shape) -> Shape:
    return ()


def _index(node: Node, a: Shape) -> Shape:
    index = node.attrs["index"]
    return a[len(index) if isinstance(index, tuple) else 1:]


# op: (shape of the output from the input shapes, floating-point operations of forward and
# backward per number of the largest operand, scratch arrays of that size the passes allocate
# besides values and gradients). A matmul's work is its dot products: 6·m·k·n for both passes.
RULES: dict[str, tuple[Callable[..., Shape], int, int]] = {
    **{op: (_broadcast, 4, 2) for op in ("add", "sub", "mul", "div", "max", "min", "gt", "lt",
                                         "ge", "le")},
    "pow": (_broadcast, 60, 4),
    **{op: (_same, 3, 1)
       for op in ("neg", "recip", "addc", "scale", "abs", "relu", "square", "clip", "ones_like",
                "zeros_like")},
    **{op: (_same, 30, 2)
       for op in ("powc", "exp", "log", "sqrt", "sigmoid", "tanh", "softplus", "sin", "cos",
                  "expm1", "log1p", "leaky_relu", "elu", "softsign")},
    "gelu": (_same, 60, 3),
    **{op: (_scalar, 40, 4) for op in ("mse", "bce")},  # per number of the broadcast
    "matmul": (_matmul, 0, 2),
    "sum": (_scalar, 2, 1),
    "mean": (_scalar, 2, 1),
    "transpose": (lambda node, a: a[:-2] + a[-2:][::-1], 1, 1),  # each matrix of a stack
    "index": (_index, 1, 1),
    "softmax_ce": (_scalar, 40, 4),
}

# gates whose one number comes from the broadcast of their inputs: their work is of its size
OVER_BROADCAST = frozenset({"mse", "bce"})

# Seconds, roughly, on one core: what the server uses to pick a lane, not a promise.
US_PER_SCALAR_GATE = 4.0  # both passes and the response, on Python floats
US_PER_TENSOR_GATE = 25.0  # the same through numpy calls
NS_PER_FLOP = 1.0
NS_PER_NUMBER = 60.0  # a number of the response: converted, encoded, sent
US_PER_PARSED_CHAR = 8.0  # parsing text that is not cached yet
BYTES_PER_NUMBER = 20  # a float written as JSON, with its comma
BYTES_PER_NODE = 160  # a node's fixed fields in the response


@dataclass(frozen=True)
class Budget:
    """What one request may cost beyond `Limits` (gates and elements): memory, work, response."""

    memory: int = 512 * 2**20  # bytes of values, gradients and scratch arrays
    flops: int = 2 * 10**9  # floating-point operations of both passes
    response: int = 4 * 10**6  # bytes of the /api/circuit response


@dataclass(frozen=True)
class Cost:
    """The estimate for one graph and one set of input shapes."""

    gates: int
    elements: int  # numbers the forward pass holds (every node's value)
    memory: int  # bytes of values, gradients and scratch
    flops: int
    response: int  # bytes of the /api/circuit response
    shapes: list[Shape]  # every node's, in node order

    @property
    def scalar(self) -> bool:
        """Every value is a scalar."""
        return self.elements == len(self.shapes)

    @property
    def seconds(self) -> float:
        per_gate = US_PER_SCALAR_GATE if self.scalar else US_PER_TENSOR_GATE
        return (self.gates * per_gate * 1e-6 + self.flops * NS_PER_FLOP * 1e-9
                + self.response / BYTES_PER_NUMBER * NS_PER_NUMBER * 1e-9)


def parse_seconds(text: str) -> float:
    """Roughly how long parsing `text` takes (the parser is linear in the text)."""
    return len(text) * US_PER_PARSED_CHAR * 1e-6


def shape_of(value, where: str = "value") -> Shape:
    """The shape a request value will have, without building it: a number, a nested list (read
    along its first elements; the engine checks that it is rectangular), or {"randn": shape}."""
    if isinstance(value, np.ndarray):
        return value.shape
    if isinstance(value, Mapping):
        shape = value.get("randn", ())
        return (shape,) if isinstance(shape, int) else tuple(shape)
    shape = []
    while isinstance(value, (list, tuple)):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


def estimate(graph: Graph, values: Mapping, limits: Limits | None = None,
             budget: Budget | None = None) -> Cost:
    """Every node's shape and the cost of tracing `graph` with `values`; with `limits` or `budget`,
    an ExpressionError names the first node whose work goes over them (its span, its shape)."""
    shapes: list[Shape] = [()] * len(graph.nodes)
    sizes = [1] * len(graph.nodes)
    elements = memory = flops = gates = inputs = 0
    max_gates = limits.max_gates if limits else math.inf
    max_elements = limits.max_elements if limits else math.inf
    max_memory = budget.memory if budget else math.inf
    max_flops = budget.flops if budget else math.inf
    for node in graph.nodes:
        work = None
        if node.kind == "gate":
            gates += 1
            shape_rule, per_number, scratch = RULES[node.op]
            ins = [i.index for i in node.inputs]
            shape = shape_rule(node, *[shapes[i] for i in ins])
            size = math.prod(shape)
            widest = max(size, *[sizes[i] for i in ins])
            if node.op in OVER_BROADCAST:  # the work's shape is what a refusal names
                work = _broadcast(node, *[shapes[i] for i in ins])
                widest = max(widest, math.prod(work))
            flops += per_number * widest if per_number else 6 * size * shapes[ins[0]][-1]
            memory += 8 * scratch * widest
        else:
            v = values.get(node.name) if node.kind == "input" else None
            shape = np.shape(node.default) if v is None else shape_of(v)  # np.shape(None): ()
            size = math.prod(shape)
            if node.kind == "input":
                inputs += size
        shapes[node.index], sizes[node.index] = shape, size
        elements += size
        memory += 16 * size  # the value and its gradient
        if gates > max_gates:
            raise _over(node, shape, f"the circuit has more than {max_gates:,} "
                        f"gate{'s' * (max_gates != 1)} (an expanded composite gate counts as "
                        "the gates it becomes)")
        if elements > max_elements:
            raise _over(node, shape, f"the circuit would hold {elements:,} numbers, more than "
                        f"the limit of {max_elements:,}")
        if memory > max_memory:
            raise _over(node, work or shape, f"the circuit would need {memory / 2**20:,.0f} "
                        f"MB, more than the limit of {max_memory / 2**20:,.0f} MB")
        if flops > max_flops:
            raise _over(node, work or shape, f"the circuit would take {flops:.2g} "
                        f"floating-point operations, more than the limit of {max_flops:.2g}")
    # every node's value and gradient, and the inputs' gradients again by name; a gate's
    # constants as often as it writes them: in its label, its attrs and (scale) its local
    response = (BYTES_PER_NODE * len(graph.nodes) + BYTES_PER_NUMBER * (2 * elements + inputs)
                + 3 * sum(len(repr(n.attrs)) for n in graph.nodes if n.attrs))
    return Cost(gates, elements, memory, flops, response, shapes)


def check_response(cost: Cost, budget: Budget) -> None:
    """An ExpressionError when the /api/circuit response would be larger than the budget."""
    if cost.response > budget.response:
        raise ExpressionError(
            f"the response would be about {cost.response / 1e6:,.1f} MB, more than the limit "
            f"of {budget.response / 1e6:,.1f} MB: every node's value and gradient are sent",
            hint="use smaller tensors (the gradient check and the code need less)")


def _over(node: Node, shape: Shape, what: str) -> ExpressionError:
    if node.kind == "gate":
        name = f" ({node.name})" if node.name else ""
        where = f"the {node.label} gate{name}"
    else:
        where = f"input {node.name}" if node.kind == "input" else "a constant"
    return ExpressionError(f"{what}: at {where}, of shape {shape_text(shape)}", *node.where)
