"""Request and response models of the HTTP contract, with examples for /docs, and the error
responses every POST route documents."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    model_validator,
)
from typing_extensions import TypeAliasType

from app.settings import Settings
from engine import nn
from engine.graph import TOO_LARGE, too_large
from engine.labs import datasets, training
from engine.labs.gradient_flow import SATURATION
from engine.presets import DOSAGE

# --- values ----------------------------------------------------------------------------------


def _fits_a_float(n: int) -> int:
    if too_large(n):
        raise ValueError(f"{TOO_LARGE} has no float64 value")
    return n


Number = Annotated[Annotated[StrictInt, AfterValidator(_fits_a_float)] | StrictFloat,
                   Field(allow_inf_nan=False)]
NestedList = TypeAliasType("NestedList", list[Union[Number, "NestedList"]])


class Randn(BaseModel):
    """A tensor of standard normal samples, reproducible from its seed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"randn": [5, 10], "seed": 0}]})
    randn: list[Annotated[StrictInt, Field(gt=0)]] = Field(
        min_length=1, max_length=4, description="Shape of the tensor.")
    seed: Annotated[StrictInt, Field(ge=0)] = Field(0, description="Random seed.")


Value = Annotated[
    Number | NestedList | Randn,
    Field(description='A number, a nested list of numbers, or {"randn": shape, "seed": s}.'),
]

# A number in a response: finite, or one of the strings JavaScript's Number() reads back.
OutNumber = float | Literal["NaN", "Infinity", "-Infinity"]
OutNested = TypeAliasType("OutNested", list[Union[OutNumber, "OutNested"]])
OutValue = Annotated[OutNumber | OutNested, Field(
    description='A number or nested list; non-finite numbers are "NaN", "Infinity", "-Infinity".')]

# --- requests --------------------------------------------------------------------------------

_XYZ = {"x": -2, "y": 5, "z": -4}


class ExpressionRequest(BaseModel):
    """An expression (or short program) with values for its inputs."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"expression": "(x + y) * z", "values": _XYZ, "expand": False},
        {"expression": "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))",
         "values": {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}, "expand": True},
        {"expression": "sum(relu(W @ x))", "values": {
            "W": {"randn": [3, 4], "seed": 0}, "x": [1, 2, 3, 4]}},
    ]})
    expression: str = Field(
        description="One expression, or statements `name = expression` separated by newlines "
        "or `;`; the last one is the output.", examples=["(x + y) * z"])
    values: dict[str, Value] = Field(
        default_factory=dict, description="Input values by name; they override literals "
        "assigned in the program.", examples=[_XYZ])
    expand: StrictBool = Field(
        False, description="Draw composite gates (sigmoid, tanh, ...) as primitive gates.")

    def engine_values(self) -> dict[str, Any]:
        """Values as the engine takes them (random tensors as their {"randn", "seed"} dicts; the
        engine holds their sizes to its limits before it makes them)."""
        return {k: v.model_dump() if isinstance(v, Randn) else v for k, v in self.values.items()}


class CircuitRequest(ExpressionRequest):
    """An expression with values for its inputs, and the gradient its backward pass starts from."""

    grad: Value | None = Field(
        None, description="The output's gradient, of the output's shape, where the backward "
        "pass starts: the upstream gradient of a circuit that is part of a bigger one (the "
        "notes' dD). Ones by default. The gradient check is then of sum(grad * output), and "
        "the staged code starts its backward pass from it.")

    def engine_grad(self) -> Any:
        return self.grad.model_dump() if isinstance(self.grad, Randn) else self.grad


class GradcheckRequest(CircuitRequest):
    """A circuit request plus the step of the central differences."""

    model_config = ConfigDict(json_schema_extra={"examples": [  # extra="forbid" inherited
        {"expression": "(x + y) * z", "values": _XYZ, "h": 1e-5}]})
    h: Annotated[Number, Field(ge=1e-10, le=1)] | None = Field(
        None, description="Step of the central differences (default 1e-5), from 1e-10 to 1.",
        examples=[1e-5])


_STAGED_CHECK = ("x = -2; y = 5; z = -4\nq = x + y\nf = q * z\n"
                 "dq = z; dz = q\ndx = -dq; dy = dq")


class BackwardCheckRequest(BaseModel):
    """A forward pass followed by a hand-written backward pass, to be judged line by line."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"code": _STAGED_CHECK, "values": {}}]})
    code: str = Field(description="Forward statements `name = expression`, then backward lines "
                      "`dname = ...` / `dname += ...` for variables of the forward pass (or "
                      "`dfdx` for the output f, `dqdx` for a local gradient ∂q/∂x).",
                      examples=[_STAGED_CHECK])
    values: dict[str, Value] = Field(
        default_factory=dict, description="Input values by name; they override literals "
        "assigned in the code.", examples=[{}])

    engine_values = ExpressionRequest.engine_values


# --- responses -------------------------------------------------------------------------------


class Node(BaseModel):
    """One wire's source: an input, a constant, or a gate; its value and gradient."""

    id: str = Field(examples=["n3"])
    kind: Literal["input", "const", "gate"]
    name: str | None = Field(None, description="Variable or assigned name.", examples=["q"])
    label: str = Field(description="What the drawing writes on the node.", examples=["+"])
    op: str | None = Field(None, description="Gate op (see /api/ops); null for inputs/consts.")
    inputs: list[str] = Field(description="Ids of the input nodes, in order.")
    value: OutValue
    grad: OutValue | None = Field(None, description="Gradient of the output w.r.t. this wire.")
    shape: list[int] = Field(description="[] for scalars.")
    local: list[OutNumber | None] | None = Field(
        None, description="A scalar gate's local derivative w.r.t. each input (null for tensors).")
    span: list[int] | None = Field(
        None, description="[start, end) character range in the expression (in code points, "
        "as all offsets here).", examples=[[0, 7]])
    attrs: dict[str, Any] | None = Field(
        None, description="A gate's constants by name (each op's `constants` in /api/ops "
        "says how its formula writes them); left out when it has none "
        '(e.g. {"a": 3} for b = x * 3, {"lo": -1, "hi": 2} for clip(x, -1, 2)).',
        examples=[{"a": 3.0}])


class CircuitResponse(BaseModel):
    """The traced circuit: output value, input gradients and every node."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "expression": "(x + y) * z", "output": "n4", "value": -12.0,
        "gradients": {"x": -4.0, "y": -4.0, "z": 3.0},
        "nodes": [
            {"id": "n0", "kind": "input", "name": "x", "label": "x", "op": None, "inputs": [],
             "value": -2.0, "grad": -4.0, "shape": []},
            {"id": "n3", "kind": "gate", "name": "q", "label": "+", "op": "add",
             "inputs": ["n0", "n1"], "value": 3.0, "grad": -4.0, "shape": [],
             "local": [1.0, 1.0], "span": [0, 7]}],
        "warnings": [], "notes": []}]})
    expression: str
    output: str = Field(description="Id of the output node.")
    value: OutValue
    gradients: dict[str, OutValue | None] = Field(
        description="One entry per input variable (null for integer label inputs).")
    nodes: list[Node]
    warnings: list[str] = Field(description="E.g. which node produced a NaN.")
    notes: list[str] = Field(
        default_factory=list,
        description="What the program's print lines print, e.g. \"line 15 prints 24.7041\", "
        "or in PyTorch code \"line 6 prints tensor([0.5000, 0.0000, 0.5000])\" (a print of "
        "anything but strings, numbers, gradients and f-strings of those is shown as written).")


# Numeric gradients of big tensors: elements outside the checked sample are null.
SampledNested = TypeAliasType(
    "SampledNested", list[Union[OutNumber, None, "SampledNested"]])  # noqa: UP007


class InputCheck(BaseModel):
    """Analytic against numeric gradient of one input."""

    analytic: OutValue | None
    numeric: OutNumber | SampledNested | None = Field(
        description="Central differences; null where an element was not sampled.")
    rel_error: OutNumber | None = Field(description="Largest element-wise relative error.")
    kink: bool | None = Field(None, description="The input sits at a kink (relu(0), abs(0)...).")
    edge: bool | None = Field(None, description="A step of h leaves a gate's domain (sqrt or log "
                              "at 0): central differences cannot measure the derivative there.")
    passed: bool | None = Field(None, description="Every checked element agrees, or sits at a "
                                "kink or an edge; null for an input with no gradient.")
    worst: list[int] | None = Field(None, description="The index of the element with the "
                                    "largest relative error ([] for a number).")
    note: str | None = Field(None, description="Why central differences cannot judge an element "
                             "at a kink or an edge.")
    checked: int | None = Field(None, description="Elements checked (a sample of big tensors).")
    size: int | None = Field(None, description="Elements of the input.")


class GradcheckResponse(BaseModel):
    """Backprop's gradients against central differences."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "h": 1e-05, "passed": True,
        "inputs": {"x": {"analytic": -4.0, "numeric": -4.0, "rel_error": 0.0, "kink": False}}}]})
    h: float
    passed: bool
    inputs: dict[str, InputCheck]


class CodeResponse(BaseModel):
    """Staged forward and backward Python, one line per gate."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "forward": "q = x + y  #(1)\nf = q * z  #(2)",
        "backward": "dq = z * df  #(2)\ndz = q * df  #(2)\ndx = 1.0 * dq  #(1)\n"
                    "dy = 1.0 * dq  #(1)",
        "source": "x = -2\ny = 5\nz = -4\n..."}]})
    forward: str
    backward: str
    source: str = Field(description="Runnable: leaves d<name> for every input.")


class LineCheck(BaseModel):
    """One backward line: what the code's d variable holds after it, against the right value."""

    line: int = Field(description="Line number in the code, from 1.", examples=[4])
    name: str = Field(description="The name it assigns, as the code writes it: a gradient (dx, "
                      "or dfdx as the notes write it) or a local gradient (dqdx).",
                      examples=["dx"])
    var: str = Field(description="The forward variable it is the gradient of (for a local "
                     "gradient d<a>d<b>: b).", examples=["x"])
    of: list[str] = Field(description="The forward stages whose contributions to the gradient "
                          "this line adds.", examples=[["q"]])
    ok: bool
    status: Literal["ok", "wrong", "inherits"] = Field(
        description="wrong: this line's own step is wrong; inherits: its step is right but it "
        "builds on an earlier wrong line.")
    got: OutValue = Field(description="The gradient's value after this line, as the code has it.")
    expected: OutValue = Field(description="Its value after this line in a right backward pass.")
    message: str | None = Field(description="What is wrong, in words; null when ok.")
    span: list[int] = Field(description="[start, end) of the statement in the code, in code "
                            "points.")
    given: bool = Field(False, description="The output's gradient given as data (`dD = "
                        "np.random.randn(*D.shape)`): where the backward pass starts, not a "
                        "step of its own.")


class GradientCheck(BaseModel):
    """An input's final gradient as the code leaves it, against the engine's."""

    name: str = Field(description="The code's name for it: dx, or dfdx as the notes write it.")
    got: OutValue | None = Field(description="null when no line computes it.")
    expected: OutValue
    ok: bool
    message: str | None


class BackwardCheckResponse(BaseModel):
    """Each backward line judged, and every input's final gradient compared."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "output": "f", "value": -12.0, "passed": False, "first_wrong": 5,
        "lines": [
            {"line": 4, "name": "dq", "var": "q", "of": ["f"], "ok": True, "status": "ok",
             "got": -4.0, "expected": -4.0, "message": None, "span": [42, 48],
             "given": False},
            {"line": 4, "name": "dz", "var": "z", "of": ["f"], "ok": True, "status": "ok",
             "got": 3.0, "expected": 3.0, "message": None, "span": [50, 56],
             "given": False},
            {"line": 5, "name": "dx", "var": "x", "of": ["q"], "ok": False, "status": "wrong",
             "got": 4.0, "expected": -4.0, "span": [57, 65], "given": False,
             "message": "the local gradient of q = x + y with respect to x is 1, but this line "
                        "uses -1: its sign is wrong."},
            {"line": 5, "name": "dy", "var": "y", "of": ["q"], "ok": True, "status": "ok",
             "got": -4.0, "expected": -4.0, "message": None, "span": [67, 74],
             "given": False}],
        "gradients": {
            "x": {"name": "dx", "got": 4.0, "expected": -4.0, "ok": False,
                  "message": "dx is wrong since line 5"},
            "y": {"name": "dy", "got": -4.0, "expected": -4.0, "ok": True, "message": None},
            "z": {"name": "dz", "got": 3.0, "expected": 3.0, "ok": True, "message": None}},
        "forward_end": 42, "warnings": []}]})
    output: str = Field(description="The forward variable the backward pass starts from.")
    value: OutValue = Field(description="The output's value.")
    passed: bool = Field(description="Every line and every input's gradient is right.")
    first_wrong: int | None = Field(description="The first line whose own step is wrong.")
    lines: list[LineCheck]
    gradients: dict[str, GradientCheck] = Field(description="One entry per input.")
    forward_end: int = Field(description="Where the backward pass starts in the code, in code "
                             "points.")
    warnings: list[str]


class Preset(BaseModel):
    """A worked example of the course notes."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "add-mul", "title": "(x + y) * z", "expression": "q = x + y\nf = q * z",
        "values": _XYZ, "expand": False,
        "notes": "The add gate distributes the gradient; the mul gate swaps its inputs.",
        "backward": False}]})

    id: str = Field(examples=["neuron"])
    title: str
    expression: str
    values: dict[str, Any]
    expand: bool
    notes: str
    backward: bool = Field(False, description="The expression is a forward pass followed by a "
                           "hand-written backward pass: /api/backward-check judges it, and "
                           "/api/circuit draws its forward part, code[:forward_end].")


class Op(BaseModel):
    """One row of the gate table."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "op": "mul", "label": "*", "arity": 2,
        "formula": "\\frac{\\partial}{\\partial a}(ab) = b,\\quad "
                   "\\frac{\\partial}{\\partial b}(ab) = a",
        "pattern": "swaps: each input gets the upstream gradient times the other input",
        "nondiff": [], "constants": {}}]})

    op: str = Field(examples=["mul"])
    label: str = Field(examples=["*"])
    arity: int = Field(examples=[2])
    formula: str = Field(description="LaTeX of the local derivative.")
    pattern: str = Field(description="How the gate sends gradient back.")
    nondiff: list[int] = Field(
        description="Input slots that take no gradient (softmax_ce's integer labels).",
        examples=[[]])
    constants: dict[str, str] = Field(
        description="The gate's constants, as /api/circuit's attrs name them, each with its "
        'name in the formula (e.g. {"index": "k"}, {"alpha": "α"}); {} when it has none.',
        examples=[{}])


class Health(BaseModel):
    """Liveness."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Problem(BaseModel):
    """An RFC 9457 problem document (media type application/problem+json)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "urn:chainrule:problem:expression", "title": "Invalid expression or values",
        "status": 400, "detail": "unknown name 'k'", "position": {"start": 4, "end": 5}}]})
    type: str = Field(description="A URN naming the kind of problem, or about:blank.")
    title: str
    status: int
    detail: str
    position: dict[Literal["start", "end"], int] | None = Field(
        None, description="Where the error points into the expression: 0-based start and end "
        "(exclusive) character offsets, in code points (an emoji is one).")
    hint: str | None = Field(None, description="A suggestion, e.g. use ** instead of ^.")
    missing: list[str] | None = Field(
        None, description="For a missing value: every input that still needs one, in order.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For 422: each schema violation's loc, msg and type.")


# What each error status means; app.main's description lists them too.
STATUSES = {
    400: "The expression or its values are wrong (syntax, unknown name, missing value, shape "
         "mismatch; the problem's `position` in the text when known), or the request is over "
         "a limit of size, work or response.",
    408: "The request body did not arrive within the time limit.",
    413: f"The request body is larger than the limit ({Settings.max_body / 1e6:g} MB by "
         "default).",
    415: "The request body is not application/json.",
    422: "The request does not match the schema or its bounds (detail says which field and "
         "why).",
    503: f"The computation took longer than the time limit ({Settings.time_limit:g} s by "
         "default), its worker process ended, too many requests are being computed already "
         "(answered at once), or no worker came free within the time limit (both with "
         "Retry-After).",
}
# Problem's schema is in the document's components: /api/labs/train names it as a model.
ERRORS: dict[int | str, dict[str, Any]] = {status: {
    "description": description,
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
} for status, description in STATUSES.items()}


# --- labs: gradient flow, the cliff -------------------------------------------------------------

# A request must fit in memory and in the time limit: the weights (depth × width²) and the
# activations (depth × width × batch) are what grows; both limits allow the papers' setups.
MAX_WEIGHTS = 2**23  # 30 × 512² (He et al.) and 5 × 1000² (Glorot & Bengio) fit
MAX_UNITS = 2**22
# The limits on fields taken together: the product of each field to its power is at most `max`.
# The JSON schema of GradientFlowRequest publishes them as "x-combined-limits", so a form can
# name the limit an input combination exceeds before it sends anything.
FLOW_LIMITS = (
    {"name": "weights", "powers": {"depth": 1, "width": 2}, "max": MAX_WEIGHTS,
     "formula": "depth × width²", "hint": "use fewer or narrower layers"},
    {"name": "activations", "powers": {"depth": 1, "width": 1, "batch": 1}, "max": MAX_UNITS,
     "formula": "depth × width × batch", "hint": "use a smaller batch or fewer layers"},
)


# The weight schemes of engine.nn.init_weights; a seed of numpy's random generator.
_INITS = ("standard: U[±1/√n_in]; xavier: U[±√6/√(n_in+n_out)]; he: N(0, 2/n_in); "
          "normal: N(0, 1)")
SEED_MAX = 2**32 - 1
Seed = Annotated[StrictInt, Field(ge=0, le=SEED_MAX)]


class GradientFlowRequest(BaseModel):
    """A deep MLP at initialisation: depth hidden layers of `width` units, 10 classes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"depth": 5, "width": 1000, "activation": "tanh", "init": "standard", "scale": 1.0,
         "batch": 64, "residual": False, "seed": 0},
        {"depth": 30, "width": 512, "activation": "relu", "init": "he", "scale": 1.0,
         "batch": 64, "residual": False, "seed": 0},
    ], "x-combined-limits": [dict(limit) for limit in FLOW_LIMITS]})
    depth: StrictInt = Field(5, ge=1, le=100, description="Number of hidden layers.")
    width: StrictInt = Field(1000, ge=2, le=1024,
                             description="Units per hidden layer (and inputs).")
    activation: Literal[nn.ACTIVATIONS] = "tanh"
    init: Literal[nn.INITS] = Field(
        "standard", description=_INITS + ".")
    scale: Number = Field(1.0, gt=0, le=100,
                         description="Multiplies every weight; above 1 makes gradients explode.")
    batch: StrictInt = Field(64, ge=1, le=512,
                             description="Rows of the standard-normal input batch.")
    residual: StrictBool = Field(False, description="Add a skip connection around every layer.")
    seed: Seed = Field(0, description="Seed of data, labels and weights.")

    @model_validator(mode="after")
    def _fits(self) -> GradientFlowRequest:
        for limit in FLOW_LIMITS:
            value = math.prod(getattr(self, k) ** p for k, p in limit["powers"].items())
            if value > limit["max"]:
                raise ValueError(f"{limit['formula']} = {value:,} {limit['name']} is more than "
                                 f"the limit of {limit['max']:,}; {limit['hint']}")
        return self


class Histogram(BaseModel):
    edges: list[OutNumber] = Field(description="Bin edges, one more than counts.")
    counts: list[int]


class LayerStats(BaseModel):
    """One hidden layer; s is its pre-activation, f(s) its activation."""

    layer: int = Field(description="1 is the layer nearest the input.")
    activation_mean: OutNumber = Field(description="Mean of f(s) over batch and units.")
    activation_std: OutNumber = Field(description="Standard deviation of f(s).")
    saturated: float = Field(description="Fraction of units in the activation's flat tails: "
                             + "; ".join(f"{k}: {v}" for k, v in SATURATION.items()) + ".")
    grad_var: OutNumber = Field(description="Variance of the back-propagated gradient dL/ds.")
    grad_norm: OutNumber = Field(description="Frobenius norm of dL/ds.")
    weight_grad_var: OutNumber = Field(description="Variance of dL/dW of the layer's weights.")
    weight_grad_norm: OutNumber = Field(description="Frobenius norm of dL/dW.")
    histogram: Histogram = Field(description="Counts of the finite activations f(s).")


class GradientFlowResponse(BaseModel):
    loss: OutNumber = Field(description="Softmax cross-entropy, averaged over the batch.")
    layers: list[LayerStats]
    saturation: str = Field(description="What `saturated` counts for this activation.")
    warnings: list[str] = Field(description="What left float64's range, each with the "
                                "configuration and its layers: numbers that overflowed to inf "
                                "or NaN, or underflowed to 0.")


Coordinate = Annotated[Number, Field(ge=-50, le=50)]  # w or b on the cliff


class CliffRequest(BaseModel):
    """The loss surface of x_t = w·σ(x_{t-1}) + b over 50 steps, and two descent paths."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"w_range": [0, 10], "b_range": [-6, 2], "grid": 61, "start": [4, -4], "lr": 3,
         "iterations": 40, "threshold": 0.3}]})
    w_range: tuple[Coordinate, Coordinate] = Field((0.0, 10.0), description="[low, high] of w.")
    b_range: tuple[Coordinate, Coordinate] = Field((-6.0, 2.0), description="[low, high] of b.")
    grid: StrictInt = Field(61, ge=5, le=121, description="Points along each axis of the surface.")
    start: tuple[Coordinate, Coordinate] = Field((4.0, -4.0),
                                                 description="[w, b] where descent starts.")
    lr: Number = Field(3.0, gt=0, le=100, description="Learning rate.")
    iterations: StrictInt = Field(40, ge=1, le=200, description="Gradient-descent steps per path.")
    threshold: Number = Field(0.3, gt=0, le=1000,
                             description="Clip the gradient's norm to this on the clipped path.")

    @model_validator(mode="after")
    def _ranges(self) -> CliffRequest:
        for name in ("w_range", "b_range"):
            low, high = getattr(self, name)
            if not low < high:
                raise ValueError(f"{name}: the low end ({low:g}) must be below the high end "
                                 f"({high:g})")
        return self


class Surface(BaseModel):
    w: list[float]
    b: list[float]
    loss: list[list[OutNumber]] = Field(description="Rows by b, columns by w.")


class PathPoint(BaseModel):
    w: OutNumber
    b: OutNumber
    loss: OutNumber
    grad_norm: OutNumber


class Wall(BaseModel):
    """The first step where clipping acts: both paths stand at the same point."""

    iteration: int
    w: float
    b: float
    grad_norm: OutNumber
    unclipped_step: OutNumber = Field(description="Length of the step without clipping.")
    clipped_step: OutNumber = Field(description="Length of the clipped step (lr × threshold).")


class CliffResponse(BaseModel):
    steps: int = Field(description="Time steps of the recurrence (50).")
    surface: Surface
    unclipped: list[PathPoint]
    clipped: list[PathPoint]
    wall: Wall | None = Field(description="Null when the gradient never exceeds the threshold.")


# --- the learning lab: gradient descent on a circuit, training a network ----------------------


class DescentRequest(ExpressionRequest):
    """A circuit whose output is a scalar loss, and the inputs to descend on."""

    model_config = ConfigDict(json_schema_extra={"examples": [{  # extra="forbid" inherited
        "expression": DOSAGE, "values": {}, "params": ["b3"], "lr": 0.1, "steps": 100,
        "tol": 0.001}]})
    params: list[str] = Field(min_length=1, max_length=100,
                              description="Inputs of the circuit to descend on.")
    lr: Annotated[Number, Field(gt=0, le=1e6)] = Field(
        0.1, description="Learning rate: step size = lr × slope.")
    steps: StrictInt = Field(100, ge=0, le=10_000, description="Updates at most.")
    tol: Annotated[Number, Field(ge=0)] = Field(
        0.001, description="Stop when every |step size| is below this.")


class DescentStep(BaseModel):
    """The values before this step's update, the loss and slopes there, and the step size."""

    step: int = Field(description="0 is the start.")
    values: dict[str, OutValue]
    loss: OutNumber
    gradients: dict[str, OutValue] = Field(description="Slope of the loss in each parameter.")
    step_sizes: dict[str, OutValue] = Field(description="lr × slope; new = old - step size.")


class DescentResponse(BaseModel):
    """Every step of plain gradient descent, and where it stopped."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "params": ["b3"], "lr": 0.1, "stopped": "tol",
        "steps": [{"step": 0, "values": {"b3": 0.0}, "loss": 20.42,
                   "gradients": {"b3": -15.66}, "step_sizes": {"b3": -1.566}}],
        "final": {"b3": 2.61}, "loss": 6.4e-05}]})
    params: list[str]
    lr: float
    stopped: Literal["tol", "steps", "diverged"] = Field(
        description="tol: every step size fell below tol; steps: the step budget ran out; "
                    "diverged: the loss or a parameter stopped being finite, or the loss "
                    "grew at each of the last 5 steps to above where it started.")
    steps: list[DescentStep]
    final: dict[str, OutValue] = Field(description="The parameters at the last step.")
    loss: OutNumber = Field(description="The loss at the last step.")


TRAIN_WORK = 20_000_000_000  # multiply-adds of one training run, about: a minute's work at most
TRAIN_ITERATIONS = 100_000


DatasetName = Literal[datasets.NAMES]


class DatasetResponse(BaseModel):
    """A data set of the training lab as a run trains on it (the first line of its stream)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"dataset": "spiral", "train_size": 300, "test_size": 0, "features": 2, "classes": 3,
         "points": [[0.0, 0.0, 0], [0.0001, 0.0101, 0], [0.0042, 0.0198, 0]]},
        {"dataset": "digits", "train_size": 1437, "test_size": 360, "features": 64,
         "classes": 10, "points": None}]})
    dataset: DatasetName
    train_size: int = Field(description="Rows trained on.")
    test_size: int = Field(description="Rows held out to test (the digits'), else 0.")
    features: int = Field(description="Numbers in a row: 2, or 64 pixels for the digits.")
    classes: int
    points: list[Annotated[list[float], Field(min_length=3, max_length=3)]] | None = Field(
        description="2-D data: each training row as [x, y, class]; null for other data.")


class TrainRequest(BaseModel):
    """A classifier trained by minibatch SGD on one of the lab's data sets."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"dataset": "spiral", "hidden": 100, "activation": "relu", "bias": True,
         "init": "small", "lr": 1.0, "reg": 0.001, "batch": 0, "epochs": 10000, "seed": 0},
        {"dataset": "digits", "hidden": 100, "activation": "relu", "bias": True,
         "init": "he", "lr": 0.5, "reg": 0.0001, "batch": 50, "epochs": 20, "seed": 0},
    ]})
    dataset: DatasetName = Field(
        "spiral", description="spiral: 3 arms of 100 points; circles and xor: 300 points, "
        "2 classes; digits: scikit-learn's 8×8 digits, 1,437 to train on and 360 to test.")
    hidden: StrictInt = Field(100, ge=0, le=1000,
                              description="Hidden units; 0 is a linear softmax classifier.")
    activation: Literal[training.ACTIVATIONS] = "relu"
    bias: StrictBool = Field(True, description="false is the notes' bias-free network.")
    init: Literal[training.INITS] = Field(
        "small", description=f"small: 0.01·N(0, 1); {_INITS}. Biases start at 0.")
    lr: Annotated[Number, Field(gt=0, le=100)] = Field(1.0, description="Learning rate.")
    reg: Annotated[Number, Field(ge=0, le=10)] = Field(
        0.001, description="L2 strength: the loss adds reg/2 · ΣW².")
    batch: StrictInt = Field(0, ge=0, le=100_000, description="Minibatch rows; 0 is all.")
    epochs: StrictInt = Field(10_000, ge=1, le=TRAIN_ITERATIONS,
                              description="Passes over the training set.")
    seed: Seed = Field(0, description="Seed of data and weights.")

    @model_validator(mode="after")
    def _fits(self) -> TrainRequest:
        rows, features, classes = datasets.SIZES[self.dataset]
        minibatches = -(-rows // (self.batch or rows))  # 0, or more than the rows: one
        iterations = self.epochs * minibatches
        if iterations > TRAIN_ITERATIONS:
            raise ValueError(f"{iterations:,} iterations ({self.epochs:,} epochs of "
                             f"{minibatches:,} minibatches) is more than the limit of "
                             f"{TRAIN_ITERATIONS:,}; use fewer epochs or a bigger batch")
        width = (features + classes) * self.hidden if self.hidden else features * classes
        work = self.epochs * rows * width
        if work > TRAIN_WORK:
            raise ValueError(f"epochs × rows × weights = {work:,} is more than the limit of "
                             f"{TRAIN_WORK:,}; use fewer epochs or hidden units")
        return self
