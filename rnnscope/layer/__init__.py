"""The documented layer, without torch: the spec, gate blocks, equations, states and cost formulas.

Nothing here imports torch or any other part of rnnscope except :mod:`rnnscope.errors`.
"""
