"""Every op's exact signature and return convention, as an adapter must expose it (``convcheck verify --signatures``).

The signatures are read from the reference (the source of truth); the notes say what a signature
cannot: shapes, layouts, what is returned and which arguments the checks may pass.
"""

from __future__ import annotations

import inspect

from .arithmetic import ARITHMETIC_OPS
from .ops import OPS

#: what each op (or family) returns and the conventions a signature does not show
NOTES = {
    "conv_forward": "-> out (N, F, *out). x (N, C, *n), w (F, C/groups, *k), b (F,) or None. stride/padding/dilation: "
                    "one int or a per-dim tuple; padding also 'same'/'valid'/'full' or per-dim (before, after) pairs",
    "conv_backward": "-> (dx, dw, db); db is ignored when b is None",
    "conv_transpose_forward": "-> out (N, F, *out). x (N, C, *n), w (C, F/groups, *k) (torch's layout); "
                              "padding one int or per-dim ints; output_padding < max(stride, dilation)",
    "conv_transpose_backward": "-> (dx, dw, db)",
    "max_pool_forward": "-> out (N, C, *out). stride=None means stride=kernel; padding ≤ kernel//2, "
                        "padded with −∞",
    "max_pool_backward": "-> dx (one array, not a tuple of one); ties: all of dout to the FIRST maximum (row-major)",
    "avg_pool_forward": "-> out (N, C, *out). divisor: ∏k (count_include_pad=True), the in-input cells (False), "
                        "or divisor_override",
    "avg_pool_backward": "-> dx",
    "global_max_pool_forward": "-> out (N, C, 1, ...): the spatial dims are KEPT as 1s",
    "global_max_pool_backward": "-> dx; dout (N, C, 1, ...)",
    "global_avg_pool_forward": "-> out (N, C, 1, ...): the spatial dims are KEPT as 1s",
    "global_avg_pool_backward": "-> dx; dout (N, C, 1, ...)",
    "dense_forward": "-> out (N, M). x (N, *d) is flattened to (N, D); w is (D, M) = (in, out), NOT torch's (out, in)",
    "dense_backward": "-> (dx, dw, db); dx has x's shape (N, *d)",
    "relu_backward": "-> dx", "leaky_relu_backward": "-> dx", "tanh_backward": "-> dx", "sigmoid_backward": "-> dx",
    "softmax_forward": "-> out (N, K); softmax along axis 1", "softmax_backward": "-> dx",
    "flatten_forward": "-> out (N, prod(rest))", "flatten_backward": "-> dx of x's shape",
    "batchnorm_forward": "-> out; training mode: batch statistics over (N, *spatial), biased variance",
    "batchnorm_backward": "-> (dx, dgamma, dbeta)",
    "dropout_forward": "-> out = x · mask / (1 − p); mask is given (1 keep, 0 drop), no randomness",
    "dropout_backward": "-> dx (one array)",
    "softmax_cross_entropy": "-> (loss, dlogits): a float (mean over N) and dloss/dlogits (N, K); labels int (N,)",
    "binary_cross_entropy": "-> (loss, dlogits): mean over every entry, on logits (with the sigmoid inside); "
                            "targets (N, K) in [0, 1], soft unless Capabilities(soft_targets=False)",
}


def _signature(name: str, fn) -> str:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return f"{name}(...)"
    return f"{name}{sig.replace(return_annotation=inspect.Signature.empty)}"


def signatures() -> list[str]:
    """One line per op: ``conv_forward(x, w, b=None, ...) -> out (N, F, *out). ...``, then the arithmetic ops."""
    from .adapters.reference import OPS as REF

    lines = []
    for name in list(OPS) + list(ARITHMETIC_OPS):
        fn = REF.get(name)
        if fn is None:
            continue
        note = NOTES.get(name)
        if note is None and name in OPS:
            outs = OPS[name].outputs
            note = f"-> {outs[0]}" if len(outs) == 1 else f"-> ({', '.join(outs)})"
        elif note is None:
            note = "-> the value the reference returns (ints or tuples of ints); ValueError on invalid arguments"
        lines.append(f"{_signature(name, fn)}\n    {note}")
    return lines
