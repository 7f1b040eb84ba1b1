"""convcheck.reference — the NumPy ground truth: shape arithmetic, parameter counts and the CNN ops.

Every op follows one calling rule: ``op_forward(inputs..., **options) -> out`` and
``op_backward(dout, inputs..., **options) -> gradients of the inputs, in order`` (one array when
there is one input). Layout ``(N, C, *spatial)``, float64 by default, inputs never modified, and
``ValueError`` naming the argument on bad input. :data:`OPS` maps every public op's name to it.
"""

from . import conv, dropout, filters, layers, losses, norm, params, pool, shapes, steps
from .conv import (
    conv_backward, conv_backward_naive, conv_forward, conv_forward_naive, conv_transpose_backward,
    conv_transpose_forward,
)
from .layers import (
    batchnorm_backward, batchnorm_forward, binary_cross_entropy, dense_backward, dense_forward,
    dropout_backward, dropout_forward, flatten_backward, flatten_forward, leaky_relu_backward,
    leaky_relu_forward, relu_backward, relu_forward, sigmoid_backward, sigmoid_forward, softmax_backward,
    softmax_cross_entropy, softmax_forward, tanh_backward, tanh_forward,
)
from .dropout import inverted_dropout_backward, inverted_dropout_forward, inverted_dropout_mask
from .losses import softmax_loss, svm_loss
from .norm import (
    batchnorm_backward_alt, batchnorm_running_update, batchnorm_test_backward, batchnorm_test_forward,
    groupnorm_backward, groupnorm_forward, layernorm_backward, layernorm_forward, spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from .params import (
    activation_bytes, activation_params, batchnorm_params, conv_macs, conv_params, conv_transpose_params,
    dense_params, flatten_params, pool_params,
)
from .pool import (
    avg_pool_backward, avg_pool_forward, global_avg_pool_backward, global_avg_pool_forward,
    global_max_pool_backward, global_max_pool_forward, max_pool_backward, max_pool_forward,
)
from .shapes import (
    conv_output_is_exact, conv_output_size, conv_padding, conv_transpose_output_size, effective_kernel_size,
    pool_output_size, receptive_field,
)

#: Names of the array ops (forward, backward, losses), grouped by module.
ARRAY_OPS = conv.__all__ + pool.__all__ + layers.__all__ + norm.__all__ + losses.__all__ + dropout.__all__
#: Names of the integer arithmetic of shapes.py and params.py.
ARITHMETIC_OPS = [
    "conv_output_size", "conv_padding", "pool_output_size", "conv_transpose_output_size",
    "effective_kernel_size", "receptive_field", "conv_output_is_exact",
    "conv_params", "conv_transpose_params", "dense_params", "batchnorm_params", "pool_params",
    "activation_params", "flatten_params", "conv_macs", "activation_bytes",
]

#: Every public op by name: ``OPS["conv_forward"](x, w, b, stride=2)``.
OPS = {name: globals()[name] for name in ARRAY_OPS + ARITHMETIC_OPS}

__all__ = sorted(OPS) + ["OPS", "ARRAY_OPS", "ARITHMETIC_OPS", "conv", "pool", "layers", "norm", "losses",
                         "dropout", "filters", "shapes", "params", "steps"]
