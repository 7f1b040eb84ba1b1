"""The classic hand-designed 3×3 and 5×5 filters of the course, as named constants with their source.

Each is a 2-D float64 array to be used as one filter of a single-channel conv:
``conv_forward(image[None, None], K[None, None])`` (a cross-correlation, like every conv here).
Source for all: course notes 000 ("Filters": Laplacian, 5×5 Gaussian /159, X/Y-direction Sobel)
and 001 ("Detect Vertical Edge", "Detect Horizontal Edge"); the kernels themselves are the
standard ones of image processing (Sobel–Feldman 1968; the /159 Gaussian of Canny's detector).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SOBEL_X", "SOBEL_Y", "LAPLACIAN_4", "LAPLACIAN_8", "GAUSSIAN_5x5", "VERTICAL_EDGE", "HORIZONTAL_EDGE",
    "FILTERS", "as_conv_weight",
]


def _const(rows, scale=1.0) -> np.ndarray:
    a = np.array(rows, dtype=np.float64) * scale
    a.setflags(write=False)  # shared constants: nobody may change them in place
    return a


#: Sobel, x direction (responds to vertical edges; notes 000 "X – Direction Kernel").
SOBEL_X = _const([[-1, 0, 1],
                  [-2, 0, 2],
                  [-1, 0, 1]])

#: Sobel, y direction (responds to horizontal edges; notes 000 "Y – Direction Kernel").
SOBEL_Y = _const([[-1, -2, -1],
                  [0, 0, 0],
                  [1, 2, 1]])

#: Laplacian, 4-neighbour (notes 000, first filter). Sums to 0: flat regions map to 0.
LAPLACIAN_4 = _const([[0, -1, 0],
                      [-1, 4, -1],
                      [0, -1, 0]])

#: Laplacian, 8-neighbour (notes 000, second filter), diagonals included.
LAPLACIAN_8 = _const([[-1, -1, -1],
                      [-1, 8, -1],
                      [-1, -1, -1]])

#: 5×5 Gaussian blur, integer weights divided by their sum 159 (notes 000), so it sums to 1.
GAUSSIAN_5x5 = _const([[2, 4, 5, 4, 2],
                       [4, 9, 12, 9, 4],
                       [5, 12, 15, 12, 5],
                       [4, 9, 12, 9, 4],
                       [2, 4, 5, 4, 2]], scale=1 / 159)

#: Vertical edge detector (notes 001): bright-left/dark-right boundaries give a positive response.
VERTICAL_EDGE = _const([[1, 0, -1],
                        [1, 0, -1],
                        [1, 0, -1]])

#: Horizontal edge detector (notes 001): bright-top/dark-bottom boundaries give a positive response.
HORIZONTAL_EDGE = _const([[1, 1, 1],
                          [0, 0, 0],
                          [-1, -1, -1]])

#: All of the above by name.
FILTERS = {
    "sobel_x": SOBEL_X, "sobel_y": SOBEL_Y, "laplacian_4": LAPLACIAN_4, "laplacian_8": LAPLACIAN_8,
    "gaussian_5x5": GAUSSIAN_5x5, "vertical_edge": VERTICAL_EDGE, "horizontal_edge": HORIZONTAL_EDGE,
}


def as_conv_weight(kernel) -> np.ndarray:
    """A 2-D kernel as a conv weight ``(F=1, C=1, kh, kw)`` for :func:`conv.conv_forward`."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2:
        raise ValueError(f"kernel must be 2-D (kh, kw), got kernel.shape={k.shape}")
    return k[None, None].copy()
