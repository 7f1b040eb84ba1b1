"""What an implementation under test supports; the strategies generate only cases inside it.

One :class:`Capabilities` per implementation, optionally refined per op or op family with ``ops=``
(``{"max_pool_backward": {"dilation": False}, "avg_pool": {"ceil_mode": False}}``); a check draws
inside :meth:`Capabilities.for_ops` of every op it calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

#: keys of the old ``extra`` dict and the documented fields they stand for
_EXTRA_ALIASES = ("divisor_override", "output_padding", "count_include_pad", "soft_targets")
_OUTPUT_PADDING = (True, False, "below_stride")


@dataclass(frozen=True)
class Capabilities:
    """Declared capabilities of an implementation. Defaults: everything the reference supports.

    layout            'NCHW' (channels first, the reference's) or 'NHWC' (channels last: the checks
                      transpose inputs for the implementation and its outputs back). One for all ops.
    dtypes            float dtypes the implementation accepts, by name.
    ndims             spatial ranks supported (1-D, 2-D, 3-D).
    dilation          dilation > 1 may be generated.
    groups            groups > 1 (grouped and depthwise convolution) may be generated.
    padding_modes     the strings 'valid', 'same', 'full' may be passed as padding.
    asymmetric_padding  (before, after) pairs may be passed as padding.
    per_dim_args      stride/padding/kernel may be per-dimension tuples (else one int for all dims).
    pool_padding      pooling padding > 0 may be generated.
    ceil_mode         pooling ceil_mode=True may be generated.
    count_include_pad avg-pool count_include_pad=False may be generated (True is always passed as
                      the default, i.e. not passed at all).
    divisor_override  avg-pool divisor_override=k may be generated.
    output_padding    conv-transpose output_padding: True (torch's rule, < max(stride, dilation)),
                      'below_stride' (< stride only), False (never passed).
    soft_targets      binary_cross_entropy targets may be fractional (0.25, 0.75), not only 0 and 1.
    bias_optional     b=None may be passed to conv and dense ops (the db checks always pass a b: a
                      library without a bias raises ``Unsupported`` for it, and they are declined).
    exact_division    only configurations where the stride divides ``n + 2p − k_eff`` (cs231n's
                      contract); by default strides that do not divide are generated too (torch's).
    ops               per-op refinements: ``{op or family: {field: value}}``; a family is an op's name
                      without ``_forward``/``_backward`` (``"max_pool"`` covers both), an exact op
                      name wins over its family. ``layout`` cannot be refined per op.
    extra             deprecated alias: its keys ``divisor_override``/``output_padding``/... set the
                      fields of the same name.
    """

    layout: str = "NCHW"
    dtypes: tuple[str, ...] = ("float64", "float32")
    ndims: tuple[int, ...] = (1, 2, 3)
    dilation: bool = True
    groups: bool = True
    padding_modes: bool = True
    asymmetric_padding: bool = True
    per_dim_args: bool = True
    pool_padding: bool = True
    ceil_mode: bool = True
    count_include_pad: bool = True
    divisor_override: bool = True
    output_padding: bool | str = True
    soft_targets: bool = True
    bias_optional: bool = True
    exact_division: bool = False
    ops: dict = field(default_factory=dict, compare=False)
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', got layout={self.layout!r}")
        if not self.ndims or any(d not in (1, 2, 3) for d in self.ndims):
            raise ValueError(f"ndims must be a non-empty subset of (1, 2, 3), got ndims={self.ndims!r}")
        if self.output_padding not in _OUTPUT_PADDING:
            raise ValueError(f"output_padding must be True, False or 'below_stride', got {self.output_padding!r}")
        for key in _EXTRA_ALIASES:  # the old spelling keeps working
            if key in self.extra:
                object.__setattr__(self, key, self.extra[key])
        _check_ops(self.ops)

    def narrowed(self, **changes) -> "Capabilities":
        return replace(self, **changes)

    def for_op(self, op: str) -> "Capabilities":
        """These capabilities as they apply to ``op``: its family's refinements, then its own."""
        changes = {}
        for key in (_family(op), op):
            changes.update(self.ops.get(key, {}))
        return replace(self, ops={}, **_tuples(changes))

    def for_ops(self, *ops: str) -> "Capabilities":
        """What every op in ``ops`` supports: a check calling them all draws inside this."""
        if not ops:
            return replace(self, ops={})
        each = [self.for_op(op) for op in ops]
        merged = {}
        for f in fields(self):
            if f.name in ("ops", "extra", "layout"):
                continue
            values = [getattr(c, f.name) for c in each]
            if f.name == "exact_division":
                merged[f.name] = any(values)
            elif f.name in ("dtypes", "ndims"):
                common = tuple(v for v in values[0] if all(v in other for other in values[1:]))
                merged[f.name] = common
            elif f.name == "output_padding":
                merged[f.name] = False if False in values else ("below_stride" if "below_stride" in values else True)
            else:
                merged[f.name] = all(values)
        if not merged["ndims"]:
            raise ValueError(f"the ops {', '.join(ops)} have no spatial rank in common (ndims per op: "
                             f"{[c.ndims for c in each]})")
        return replace(self, ops={}, **merged)


def _family(op: str) -> str:
    for suffix in ("_forward", "_backward"):
        if op.endswith(suffix):
            return op[: -len(suffix)]
    return op


def _tuples(changes: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}


def _check_ops(ops: dict) -> None:
    """Unknown op names and fields are errors: a typo must not silently test what was declined."""
    if not ops:
        return
    from .arithmetic import ARITHMETIC_OPS
    from .ops import OPS

    known_ops = set(OPS) | set(ARITHMETIC_OPS) | {_family(op) for op in OPS}
    known_fields = {f.name for f in fields(Capabilities)} - {"ops", "extra", "layout"}
    for key, changes in ops.items():
        if key not in known_ops:
            raise ValueError(f"Capabilities(ops={{{key!r}: ...}}): unknown op or family {key!r}; "
                             f"known: {', '.join(sorted(known_ops))}")
        if not isinstance(changes, dict):
            raise ValueError(f"Capabilities(ops={{{key!r}: {changes!r}}}): the value must be a dict of fields")
        bad = set(changes) - known_fields
        if bad:
            raise ValueError(f"Capabilities(ops={{{key!r}: ...}}): unknown field(s) {sorted(bad)}; "
                             f"per-op fields: {', '.join(sorted(known_fields))}")


#: The cs231n assignment contract: 2-D, one int stride and pad, no dilation/groups, bias given.
CS231N = Capabilities(
    dtypes=("float64",), ndims=(2,), dilation=False, groups=False, padding_modes=False,
    asymmetric_padding=False, per_dim_args=False, pool_padding=False, ceil_mode=False,
    bias_optional=False,
)
