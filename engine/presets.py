"""Every worked example of the course notes, ready to load: the expression, its values, and what
it shows. tests/test_presets.py holds each one to the numbers the notes print."""

from __future__ import annotations

STAGED = """\
x = 3 # example values
y = -4

# forward pass
sigy = 1.0 / (1 + math.exp(-y)) # sigmoid in numerator   #(1)
num = x + sigy # numerator                               #(2)
sigx = 1.0 / (1 + math.exp(-x)) # sigmoid in denominator #(3)
xpy = x + y                                              #(4)
xpysqr = xpy**2                                          #(5)
den = sigx + xpysqr # denominator                        #(6)
invden = 1.0 / den                                       #(7)
f = num * invden # done!                                 #(8)"""

NEURON = """\
w = [2,-3,-3] # assume some random weights and data
x = [-1, -2]

# forward pass
dot = w[0]*x[0] + w[1]*x[1] + w[2]
f = 1.0 / (1 + math.exp(-dot)) # sigmoid function"""

# The notes' hand-written backward passes, printed below the forward passes above; the page
# and /api/backward-check judge them line by line.
STAGED_BACKWARD = """\
# backprop f = num * invden
dnum = invden # gradient on numerator                             #(8)
dinvden = num                                                     #(8)
# backprop invden = 1.0 / den
dden = (-1.0 / (den**2)) * dinvden                                #(7)
# backprop den = sigx + xpysqr
dsigx = (1) * dden                                                #(6)
dxpysqr = (1) * dden                                              #(6)
# backprop xpysqr = xpy**2
dxpy = (2 * xpy) * dxpysqr                                        #(5)
# backprop xpy = x + y
dx = (1) * dxpy                                                   #(4)
dy = (1) * dxpy                                                   #(4)
# backprop sigx = 1.0 / (1 + math.exp(-x))
dx += ((1 - sigx) * sigx) * dsigx # Notice += !! See notes below  #(3)
# backprop num = x + sigy
dx += (1) * dnum                                                  #(2)
dsigy = (1) * dnum                                                #(2)
# backprop sigy = 1.0 / (1 + math.exp(-y))
dy += ((1 - sigy) * sigy) * dsigy                                 #(1)
# done! phew"""
STAGED_CODE = STAGED + "\n\n" + STAGED_BACKWARD

NEURON_CODE = NEURON + """

# backward pass through the neuron (backpropagation)
ddot = (1 - f) * f # gradient on dot variable, using the sigmoid gradient derivation
dx = [w[0] * ddot, w[1] * ddot] # backprop into x
dw = [x[0] * ddot, x[1] * ddot, 1.0 * ddot] # backprop into w
# we're done! we have the gradients on the inputs to the circuit"""

NEURON_GROUPED = """\
w = [2, -3, -3]
x = [-1, -2]
dot = w[0]*x[0] + w[1]*x[1] + w[2]
f = sigmoid(dot)"""

DOSAGE = """\
dosage = [0, 0.5, 1]
observed = [0, 1, 0]
w1 = 3.34; b1 = -1.43; w2 = -3.53; b2 = 0.57
w3 = -1.22; w4 = -2.30; b3 = 0
blue = softplus(dosage * w1 + b1) * w3
orange = softplus(dosage * w2 + b2) * w4
predicted = blue + orange + b3
SSR = sum((observed - predicted)**2)"""

SIGMOID_CHAIN = "\n".join(
    ["x = 1", "h1 = sigmoid(x)"]
    + [f"h{k} = sigmoid(h{k - 1})" for k in range(2, 11)]
)

# micrograd's README example, pasted as printed there
MICROGRAD_README = """\
from micrograd.engine import Value

a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f'{g.data:.4f}') # prints 24.7041, the outcome of this forward pass
g.backward()
print(f'{a.grad:.4f}') # prints 138.8338, i.e. the numerical value of dg/da
print(f'{b.grad:.4f}') # prints 645.5773, i.e. the numerical value of dg/db"""

# the neuron of micrograd's lecture, with its labels
LECTURE_NEURON = """\
# inputs x1,x2
x1 = Value(2.0, label='x1')
x2 = Value(0.0, label='x2')
# weights w1,w2
w1 = Value(-3.0, label='w1')
w2 = Value(1.0, label='w2')
# bias of the neuron
b = Value(6.8813735870195432, label='b')
# x1*w1 + x2*w2 + b
x1w1 = x1*w1; x1w1.label = 'x1*w1'
x2w2 = x2*w2; x2w2.label = 'x2*w2'
x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = 'x1*w1 + x2*w2'
n = x1w1x2w2 + b; n.label = 'n'
o = n.tanh(); o.label = 'o'
o.backward()
draw_dot(o)"""


def _preset(id: str, title: str, expression: str, values: dict | None = None, *, notes: str,
            backward: bool = False) -> dict:
    return {"id": id, "title": title, "expression": expression, "values": values or {},
            "expand": False, "notes": notes, "backward": backward}


PRESETS: list[dict] = [
    _preset("multiply", "Multiply gate: x·y", "x * y", {"x": 4, "y": -3},
            notes="Each input's gradient is the other input's value: nudging x up by h moves "
                  "the output by -3h, nudging y by 4h."),
    _preset("add", "Add gate: x + y", "x + y", {"x": 4, "y": -3},
            notes="The local derivative of a sum is 1 on every input, whatever the values, so "
                  "both inputs get the upstream gradient as it is."),
    _preset("max", "Max gate: max(x, y)", "max(x, y)", {"x": 4, "y": 2},
            notes="Only the larger input affects the output near this point, so it takes the "
                  "whole gradient and the smaller one gets 0."),
    _preset("compound", "Chain rule: (x + y)·z", "q = x + y\nf = q * z",
            {"x": -2, "y": 5, "z": -4},
            notes="The add gate learns its output's gradient is -4 and hands it unchanged to x "
                  "and y; the multiply gate gives z the value of q."),
    _preset("neuron-expanded", "Sigmoid neuron, gate by gate", NEURON,
            notes="The neuron's forward pass as the notes write it: the sigmoid appears as its "
                  "pieces *-1, exp, +1 and 1/x, each with its own local gradient."),
    _preset("neuron-grouped", "Sigmoid neuron, one σ gate", NEURON_GROUPED,
            notes="The same neuron with the sigmoid as one gate whose local gradient is "
                  "(1-σ)σ; the gradients on w and x match the expanded circuit."),
    _preset("staged", "Staged computation", STAGED,
            notes="A deliberately awkward function broken into named stages; x and y each "
                  "feed several stages, so their gradients add up where the wires fork."),
    _preset("staged-backward", "Staged computation with its backward pass", STAGED_CODE,
            backward=True,
            notes="The notes' backward pass, one line per local gradient, each marked ✓ or ✗ "
                  "against the engine's. x and y fork, so their gradients accumulate with +=; "
                  "change one += to = and see which line the mistake is on."),
    _preset("neuron-backward", "Sigmoid neuron with its backward pass", NEURON_CODE,
            backward=True,
            notes="The notes' backward pass through the neuron: ddot = (1 - f)·f is the "
                  "sigmoid's local gradient, and dx, dw are lists, one element per input."),
    _preset("patterns", "Patterns in backward flow: 2·(x·y + max(z, w))",
            "2 * (x * y + max(z, w))", {"x": 3, "y": -4, "z": 2, "w": -1},
            notes="Add distributes the gradient, max routes it to the larger input (z), and "
                  "multiply swaps its inputs' values."),
    _preset("scale-small", "Input scale: a linear score", "w0*x0 + w1*x1 + w2",
            {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2},
            notes="The gradient on each weight is the input it multiplies; compare with the "
                  "same score on inputs 1000 times larger."),
    _preset("scale-large", "Input scale: the same score on inputs ×1000", "w0*x0 + w1*x1 + w2",
            {"w0": 2, "w1": -3, "w2": -3, "x0": -1000, "x1": -2000},
            notes="Scaling the data by 1000 scales the weight gradients by 1000 too, which is "
                  "why a learning rate tuned on one scale fails on the other."),
    _preset("matmul", "Matrix multiply: D = W·X", "D = W.dot(X)\nf = sum(D * G)",
            {"W": {"randn": [5, 10], "seed": 0}, "X": {"randn": [10, 3], "seed": 1},
             "G": {"randn": [5, 3], "seed": 2}},
            notes="G plays the gradient arriving at D from above; the engine gives dW = G·Xᵀ "
                  "and dX = Wᵀ·G, the only products whose shapes fit."),
    _preset("two-layer", "Two-layer ReLU network with softmax loss",
            "softmax_ce(relu(X @ W1) @ W2, y)",
            {"X": {"randn": [6, 4], "seed": 0}, "W1": {"randn": [4, 5], "seed": 1},
             "W2": {"randn": [5, 3], "seed": 2}, "y": [0, 2, 1, 1, 0, 2]},
            notes="A batch of 6 examples; the gradients on W1 and W2 equal the hand-derived "
                  "Xᵀ·G1/m and Z1ᵀ·G2/m, with G2 = softmax - one-hot."),
    _preset("dosage", "Dosage network: SSR and its slope in b3", DOSAGE,
            notes="Two softplus units fit three dosages; with b3 = 0 the sum of squared "
                  "residuals is about 20.4 and its derivative in b3 about -15.7."),
    _preset("sigmoid-chain", "Vanishing gradient: ten sigmoids deep", SIGMOID_CHAIN,
            notes="Every sigmoid scales the gradient by at most 1/4, so after ten of them the "
                  "gradient on x is below one millionth."),
    _preset("micrograd-readme", "micrograd README", MICROGRAD_README,
            notes="micrograd's example as printed in its README: c and d are assigned again "
                  "with +=, so they show as the wires c, c′, c″ and d, d′, d″; g is 24.7041, "
                  "dg/da 138.8338 and dg/db 645.5773, micrograd's own numbers."),
    _preset("micrograd-neuron", "micrograd lecture neuron", LECTURE_NEURON,
            notes="The neuron of micrograd's lecture with its labels: o = tanh(n) = 0.7071, "
                  "the tanh gate's local gradient is 1 - o² = 0.5, so x1 gets w1·0.5 = -1.5 and "
                  "w2 gets x2·0.5 = 0."),
]
