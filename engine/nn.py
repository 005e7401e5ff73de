"""Networks as engine graphs: deep MLPs and a one-unit recurrent chain, for the labs.

The structure is built once as a Graph; weights and data are fed as input values, so the gradients
the labs report come from `Graph.backward` like every other gradient in chainrule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.graph import Graph, Node

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
INITS = ("standard", "xavier", "he", "normal")


def init_weights(rng: np.random.Generator, n_in: int, n_out: int, init: str,
                 scale: float = 1.0) -> np.ndarray:
    """An n_in × n_out weight matrix drawn by one of the classic schemes, times `scale`.

    standard: U[-1/√n_in, 1/√n_in] (the common heuristic Glorot & Bengio start from);
    xavier: U[±√6/√(n_in+n_out)] (their normalized init); he: N(0, 2/n_in); normal: N(0, 1).
    """
    if init in ("standard", "xavier"):
        bound = 1.0 / np.sqrt(n_in) if init == "standard" else np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-bound, bound, (n_in, n_out))
    elif init in ("he", "normal"):
        w = rng.standard_normal((n_in, n_out))
        w *= np.sqrt(2.0 / n_in) if init == "he" else 1.0
    else:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    w *= scale  # exact for a scale of 1
    return w


@dataclass(frozen=True)
class MLP:
    """An MLP's graph and the nodes the labs read, per layer: the pre-activation s, the
    activation f(s), and the weight input W (the classifier's weight is `weights[-1]`)."""

    graph: Graph
    pre: tuple[Node, ...]
    act: tuple[Node, ...]
    weights: tuple[Node, ...]

    def values(self, rng: np.random.Generator, width: int, batch: int, init: str,
               scale: float = 1.0, classes: int = 10) -> dict[str, np.ndarray]:
        """Inputs for one run: a standard-normal batch, random labels, and fresh weights."""
        values = {"x": rng.standard_normal((batch, width)),
                  "labels": rng.integers(0, classes, batch).astype(float)}
        for w in self.weights[:-1]:
            values[w.name] = init_weights(rng, width, width, init, scale)
        values[self.weights[-1].name] = init_weights(rng, width, classes, init, scale)
        return values


def mlp(depth: int, activation: str, residual: bool = False, *, bias: bool = False,
        reg: float = 0.0, names: tuple[str, str, str] = ("x", "labels", "W_out")) -> MLP:
    """`depth` hidden layers s_l = h_{l-1} @ W_l, h_l = f(s_l) (plus h_{l-1} if residual),
    then logits = h_depth @ W_out and a softmax cross-entropy loss (averaged over the batch).
    `names` are the inputs' names for the data, its labels and the last weight.

    No biases unless `bias` (b_l added to each s_l and to the logits): they start at zero in
    every scheme, so they would not change the picture at initialisation. `reg` adds an L2
    penalty reg/2 · ΣW² over every weight. A linear layer has no activation gate: h_l is s_l
    itself.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}")
    data, label, last = names
    g = Graph()
    h = g.input(data)
    labels = g.input(label)
    pre, act, weights = [], [], []
    for layer in range(1, depth + 2):
        w = g.input(last if layer > depth else f"W{layer}")
        weights.append(w)
        s = g.gate("matmul", (h, w), name=f"s{layer}")
        if bias:
            s = g.gate("add", (s, g.input(f"b{layer}")), name=f"s{layer}")
        if layer > depth:
            break
        f = s if activation == "linear" else g.gate(activation, (s,), name=f"f{layer}")
        pre.append(s)
        act.append(f)
        # the skip connection gives the gradient a path around every activation gate
        h = g.gate("add", (h, f), name=f"h{layer}") if residual else f
    s.name = "logits"
    loss = g.gate("softmax_ce", (s, labels), name="loss")
    if reg:
        loss.name = "data_loss"
        for w in weights:
            penalty = g.gate("sum", (g.gate("mul", (w, w)),))
            loss = g.gate("add", (loss, g.gate("scale", (penalty,), a=0.5 * reg)))
        loss.name = "loss"
    return MLP(g, tuple(pre), tuple(act), tuple(weights))


def sigmoid_recurrence(steps: int, x0: float = 0.5, target: float = 0.7) -> Graph:
    """x_t = w·σ(x_{t-1}) + b from x_0, loss (σ(x_steps) - target)², for any shape of w and b.

    Feeding grids as w and b evaluates a whole loss surface in one forward pass; since grid
    points don't interact, one backward pass from ones gives every point's own gradient.
    """
    g = Graph()
    w = g.input("w")
    b = g.input("b")
    x = g.const(x0)
    for t in range(1, steps + 1):
        x = g.gate("add", (g.gate("mul", (w, g.gate("sigmoid", (x,)))), b), name=f"x{t}")
    err = g.gate("addc", (g.gate("sigmoid", (x,)),), c=-target)
    g.gate("powc", (err,), p=2.0, name="loss")
    return g


# --- the notes' two-layer network, trained by minibatch SGD -------------------------------------

TWO_LAYER = "softmax_ce(relu(X @ W1) @ W2, y)"


def nn_epoch(X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray, lr: float = 0.1,
             batch: int = 100) -> None:
    """One epoch of minibatch SGD on logits = relu(X @ W1) @ W2 with the softmax loss: the
    minibatches in order (no shuffling), W1 and W2 updated in place and kept in their dtype.

    The gradients are the engine's backward pass over the circuit of TWO_LAYER on each
    minibatch (parsed once). The loss averages over the minibatch's rows, so a shorter last
    minibatch is averaged over its own rows.
    """
    from engine.circuit import compile_text

    graph = compile_text(TWO_LAYER)
    inputs = graph.inputs()
    w1, w2 = inputs["W1"].index, inputs["W2"].index
    for start in range(0, X.shape[0], batch):
        end = start + batch
        vals = graph.forward({"X": X[start:end], "y": y[start:end], "W1": W1, "W2": W2})
        grads = graph.backward(vals, wrt=("W1", "W2"))  # not the data's
        W1 -= lr * grads[w1]
        W2 -= lr * grads[w2]
