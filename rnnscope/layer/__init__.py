"""The documented layer, without torch: the spec and its validation, shape formulas, PyTorch's limits
and command line; gate blocks, directions, equations, states and cost formulas.

Nothing here imports torch or any other part of rnnscope except :mod:`rnnscope.errors`.
"""
