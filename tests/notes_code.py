"""Code of the course notes that the tests paste in and that no preset loads (the presets are in
engine/presets.py)."""

# The notes' first code example: the chain rule on f = (x + y) * z, its gradients written
# dfdx (the gradient of the output f) and its local gradients dqdx (∂q/∂x).
CHAIN_RULE_CODE = """\
# set some inputs
x = -2; y = 5; z = -4

# perform the forward pass
q = x + y # q becomes 3
f = q * z # f becomes -12

# perform the backward pass (backpropagation) in reverse order:
# first backprop through f = q * z
dfdz = q # df/dz = q, so gradient on z becomes 3
dfdq = z # df/dq = z, so gradient on q becomes -4
dqdx = 1.0
dqdy = 1.0
# now backprop through q = x + y
dfdx = dfdq * dqdx  # The multiplication here is the chain rule!
dfdy = dfdq * dqdy  """

# The notes' matrix multiply: random W and X, and the gradient on D given as data.
MATRIX_CODE = """\
# forward pass
W = np.random.randn(5, 10)
X = np.random.randn(10, 3)
D = W.dot(X)

# now suppose we had the gradient on D from above in the circuit
dD = np.random.randn(*D.shape) # same shape as D
dW = dD.dot(X.T) #.T gives the transpose of the matrix
dX = W.T.dot(dD)"""

# The notes' vectorised arithmetic: np.array inputs, and a line (c) the output does not read.
VECTORS_CODE = """\
import numpy as np

# Vectors
a = np.array([1, 2, 3])
b = np.array([4, 5, 6])
c = a + b  # Result: [5, 7, 9]

# Matrices
A = np.array([[1, 2], [3, 4]])
B = np.array([[5, 6], [7, 8]])
C = A + B  # Result: [[6, 8], [10, 12]]
"""
