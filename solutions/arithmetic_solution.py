"""A correct solution of the ``arithmetic`` assignment (plain integers, no imports).

Output sizes follow PyTorch: ``⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1``; parameter counts are weights
plus one bias per output channel/unit.
"""


def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """⌊(n + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(n, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The conv rule with stride defaulting to the kernel; in ceil mode the last window must start
    inside the input or the left padding."""
    if stride is None:
        stride = kernel
    span = n + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


def _volume(kernel_size, ndim):
    if isinstance(kernel_size, (tuple, list)):
        volume = 1
        for k in kernel_size:
            volume *= k
        return volume
    return kernel_size ** ndim


def conv_params(in_channels, out_channels, kernel_size, bias=True, groups=1, ndim=1):
    """F·(C/g)·∏k weights plus F biases."""
    weights = out_channels * (in_channels // groups) * _volume(kernel_size, ndim)
    return weights + (out_channels if bias else 0)


def dense_params(in_features, out_features, bias=True):
    """in·out weights plus out biases."""
    return in_features * out_features + (out_features if bias else 0)
