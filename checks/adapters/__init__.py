"""Adapters: implementations seen through the reference signatures.

- ``torch``: PyTorch's own ops (``make("cuda")`` for another device) — the oracle, and an adapter
  the suite must pass on;
- ``reference``: convcheck's NumPy reference itself;
- ``example_nhwc``: a worked example of adapting a library with other signatures and NHWC layout;
- ``example_vjp``: a worked example for a library whose backward is its own autograd (forward + vjp);
- ``broken``: deliberately broken mutants of the reference, for demos and for testing the suite.

Modules here are imported by name (``--convcheck-impl=convcheck.checks.adapters.torch``), never
all at once: importing this package imports no adapter (and so not torch).
"""
