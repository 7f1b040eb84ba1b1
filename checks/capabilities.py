"""What an implementation under test supports; the strategies generate only cases inside it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Capabilities:
    """Declared capabilities of an implementation. Defaults: everything the reference supports.

    layout            'NCHW' (channels first, the reference's) or 'NHWC' (channels last: the checks
                      transpose inputs for the implementation and its outputs back).
    dtypes            float dtypes the implementation accepts, by name.
    ndims             spatial ranks supported (1-D, 2-D, 3-D).
    dilation          dilation > 1 may be generated.
    groups            groups > 1 (grouped and depthwise convolution) may be generated.
    padding_modes     the strings 'valid', 'same', 'full' may be passed as padding.
    asymmetric_padding  (before, after) pairs may be passed as padding.
    per_dim_args      stride/padding/kernel may be per-dimension tuples (else one int for all dims).
    pool_padding      pooling padding > 0 may be generated.
    ceil_mode         pooling ceil_mode=True may be generated.
    bias_optional     b=None may be passed to conv ops.
    exact_division    only configurations where the stride divides ``n + 2p − k_eff`` (cs231n's
                      contract); by default strides that do not divide are generated too (torch's).
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
    bias_optional: bool = True
    exact_division: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be 'NCHW' or 'NHWC', got layout={self.layout!r}")
        if not self.ndims or any(d not in (1, 2, 3) for d in self.ndims):
            raise ValueError(f"ndims must be a non-empty subset of (1, 2, 3), got ndims={self.ndims!r}")

    def narrowed(self, **changes) -> "Capabilities":
        return replace(self, **changes)


#: The cs231n assignment contract: 2-D, one int stride and pad, no dilation/groups, bias given.
CS231N = Capabilities(
    dtypes=("float64",), ndims=(2,), dilation=False, groups=False, padding_modes=False,
    asymmetric_padding=False, per_dim_args=False, pool_padding=False, ceil_mode=False,
    bias_optional=False,
)
