"""A generated test case: one call of one op, in the reference's calling convention."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return repr(value)


@dataclass
class Case:
    """``op(*inputs, **options)`` — e.g. ``conv_backward(dout, x, w, b, stride=2, padding=1)``.

    ``inputs`` are the positional arrays in the reference signature's order (for a backward op,
    ``dout`` first); ``options`` the keyword options. ``notes`` says how the inputs were chosen
    (e.g. "tie-free", "off the ReLU kink") for messages.
    """

    op: str
    inputs: tuple
    options: dict = field(default_factory=dict)
    notes: str = ""

    def call_signature(self) -> str:
        """``conv_forward(stride=2, padding=1)``: the op with its options, for messages."""
        opts = ", ".join(f"{k}={_short(v)}" for k, v in self.options.items())
        return f"{self.op}({opts})"

    def to_dict(self) -> dict:
        """JSON-able form: options and the arrays as nested lists with their shapes."""
        return {
            "op": self.op,
            "options": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.options.items()},
            "inputs": [
                {"shape": list(a.shape), "dtype": str(a.dtype), "values": a.tolist()} if isinstance(a, np.ndarray)
                else {"value": a}
                for a in self.inputs
            ],
            "notes": self.notes,
        }
