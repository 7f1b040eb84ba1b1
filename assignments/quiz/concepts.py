"""Conceptual multiple-choice items drawn from the course's material.

Each item is one template; its seed only shuffles the order of the choices (seed 0 keeps the order
written here), so ``concept-equivariance:0`` and ``concept-equivariance:17`` ask the same thing.
"""

from __future__ import annotations

import random

from convcheck.reference.params import conv_params

from .bank import Answer, Draft, register

# (name, question, right answer, wrong answers, explanation)
ITEMS = [
    ("concept-equivariance",
     "A function f is equivariant to a transformation g (such as a shift of the input) when:",
     "f(g(x)) = g(f(x))",
     ["f(g(x)) = f(x)", "f(x) = g(f(x))", "f(g(x)) = g(x)·f(x)"],
     "Equivariance: transforming the input transforms the output the same way, so shifting then "
     "convolving equals convolving then shifting. f(g(x)) = f(x) would be invariance."),
    ("concept-invariance",
     "A function f is invariant to a transformation g when:",
     "f(g(x)) = f(x)",
     ["f(g(x)) = g(f(x))", "g(f(x)) = f(x)", "f(g(x)) = g(x)"],
     "Invariance: the output does not change at all when the input is transformed. Pooling gives "
     "(local) translation invariance; convolution alone is only equivariant."),
    ("concept-not-conv-property",
     "Which of these is NOT a property of the convolution operation itself?",
     "translation invariance",
     ["sparse interactions", "parameter sharing", "local connectivity"],
     "A convolution is translation equivariant, not invariant: a shifted input gives a shifted "
     "feature map. Invariance comes from pooling. Sparse interactions / local connectivity and "
     "weight sharing are what distinguish it from a dense layer."),
    ("concept-pool-params",
     "How many learnable parameters does a max-pooling or average-pooling layer have?",
     "none: it is fixed by its window size, stride and type (max or average)",
     ["one weight per position in the window", "one bias per channel",
      "one weight per window plus one bias per channel"],
     "Pooling is a fixed aggregation (max or mean) over a window; only hyper-parameters (size, "
     "stride, padding, type) define it, so it has 0 parameters and nothing to train."),
    ("concept-pool-purpose",
     "What does adding a pooling layer after a convolution mainly bring?",
     "a smaller feature map and some invariance to small shifts of the input",
     ["more learnable parameters to fit the data", "a larger feature map with the same information",
      "exact preservation of where each feature occurs"],
     "Pooling downsamples (less memory and compute in later layers) and makes the response robust "
     "to where exactly a feature occurs — which is also why it loses location information."),
    ("concept-params-vs-image-size",
     "A conv layer of 50 filters of 3×3×3 first sees 32×32×3 images, then 1080×1080×3 images. "
     "What happens to its number of learnable parameters?",
     "it stays the same",
     ["it grows with the number of pixels", "it grows with the image width",
      "it shrinks because the stride is fixed"],
     f"Filters are shared across positions: the count (3·3·3 + 1)·50 = {conv_params(3, 50, (3, 3))} depends on the filter "
     "size, the input channels and the number of filters, not on the image size. A dense layer's "
     "count would grow with the input."),
    ("concept-dilation-gaps",
     "A dilated convolution with dilation rate d inserts how many gaps between neighbouring filter taps?",
     "d − 1", ["d", "d + 1", "2·d"],
     "Rate d places taps d apart, i.e. d − 1 skipped positions between them; rate 1 is an ordinary "
     "convolution. The span becomes d·(k − 1) + 1."),
    ("concept-dilation-purpose",
     "Why use a dilated convolution?",
     "to enlarge the receptive field without adding parameters",
     ["to reduce the number of output channels", "to make the layer invariant to translations",
      "to add learnable parameters between the taps"],
     "The taps spread out over d·(k − 1) + 1 positions while the filter keeps k weights."),
    ("concept-strong-prior",
     "In what sense is a CNN a fully connected net with an infinitely strong prior?",
     "its weights are forced to be zero outside a local window and equal across positions",
     ["its weights are initialised from a Gaussian prior", "it is trained with infinite weight decay",
      "its biases are fixed to zero"],
     "A conv layer is a dense layer whose weight matrix is constrained: only local connections, and the "
     "same weights shifted along the input. When those assumptions don't hold, the model can underfit."),
    ("concept-global-pool",
     "What does global average pooling produce from an H×W×C feature map?",
     "one value per channel (1×1×C)",
     ["one value for the whole map (1×1×1)", "an (H/2)×(W/2)×C map", "an H×W×1 map"],
     "The window is the whole spatial extent, so each channel is reduced to its mean; used instead "
     "of flatten + dense at the end of many networks."),
    ("concept-maxpool-backward",
     "In the backward pass of max pooling, where does the upstream gradient of one window go?",
     "all of it to the position that held the maximum; the others get 0",
     ["split equally over the window", "to every position of the window, unchanged",
      "nowhere: pooling has no gradient"],
     "Only the maximum influenced the output, so ∂L/∂x is the upstream gradient at the argmax and 0 "
     "elsewhere; overlapping windows accumulate."),
    ("concept-conv-db",
     "For a conv layer with output gradient dY, what is the gradient of one filter's bias?",
     "the sum of dY over that filter's output map (and the batch)",
     ["the mean of dY", "dY at the centre of the map", "the bias times dY"],
     "Every output of the filter adds the bias once, so ∂L/∂b = Σ dY."),
    ("concept-conv-dw",
     "For y = x ⋆ w + b (a valid cross-correlation), the weight gradient dW is:",
     "the cross-correlation of the input x with dY",
     ["the cross-correlation of dY with the rotated filter", "dY times the sum of x", "x times the sum of dY"],
     "∂L/∂w_mn = Σ_ij dY_ij · x_(i+m, j+n): sliding dY over x, i.e. dW = x ⋆ dY."),
    ("concept-conv-dx",
     "For y = x ⋆ w + b (a valid cross-correlation), the input gradient dX is:",
     "the zero-padded dY correlated with the filter rotated by 180°",
     ["the cross-correlation of x with dY", "dY correlated with the unrotated filter, no padding",
      "the sum of dY times the sum of w"],
     "Each x_mn reaches every output whose window covers it, through the mirrored filter index: "
     "dX = pad(dY) ⋆ rot180(w), a 'full' convolution."),
    ("concept-1x1-conv",
     "What is a 1×1 convolution typically used for?",
     "changing (often reducing) the number of channels at every position",
     ["blurring the image", "halving the height and width", "detecting edges"],
     "A 1×1 conv is a dense layer applied at each pixel across channels: a cheap way to mix and "
     "reduce channels, as in Inception modules."),
    ("concept-valid-length",
     "With 'valid' padding (none), a 1-D input of length n and a filter of length k give an output of length:",
     "n − k + 1", ["n + k + 1", "n + k − 1", "n − k − 1"],
     "The filter fits at positions 0 … n − k: that is n − k + 1 outputs."),
    ("concept-same-padding",
     "For 'same' padding at stride 1 with an odd filter length k, how many zeros go at each end?",
     "(k − 1)/2", ["k/2", "(k + 1)/2", "k − 2"],
     "Total padding k − 1 keeps n − k + 1 + (k − 1) = n outputs; split evenly, (k − 1)/2 per end."),
    ("concept-full-length",
     "With 'full' padding (k − 1 zeros at each end), how long is the output for input n and filter k?",
     "n + k − 1", ["n + k/2", "n + k/2 − 1", "n + k + 1"],
     "n + 2(k − 1) − k + 1 = n + k − 1: every partial overlap gives an output."),
]


def _make(name, question, right, wrong, explanation):
    def build(rng: random.Random, course: bool, rules) -> Draft:
        choices = [right] + list(wrong)
        if not course:
            rng.shuffle(choices)
        return Draft(question, Answer("choice", choices.index(right)), explanation, choices=tuple(choices))

    build.__name__ = name.replace("-", "_")
    summary = question if len(question) < 70 else question[:67] + "..."
    register(name, "concepts", summary)(build)
    return build


for _item in ITEMS:
    _make(*_item)
