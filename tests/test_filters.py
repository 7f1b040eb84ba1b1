"""The classic filters of the course: their defining properties and the course's worked edge maps."""

from __future__ import annotations

import numpy as np
import pytest

from convcheck import reference as ref
from convcheck.reference import filters

STEP = np.array([[10, 10, 10, 0, 0, 0]] * 6, dtype=float)   # bright left half, dark right half


def _apply(image, kernel):
    return ref.conv_forward(image[None, None], filters.as_conv_weight(kernel))[0, 0]


def test_vertical_edge_filter_on_the_course_image():
    """Notes 001: the 6×6 "10 10 10 0 0 0" image with the vertical edge filter → rows 0 30 30 0."""
    out = _apply(STEP, filters.VERTICAL_EDGE)
    expected = np.array([[0, 30, 30, 0]] * 4, float)
    assert out.shape == (4, 4), f"out.shape={out.shape}, but should be (4, 4) [conv_forward(valid)]"
    np.testing.assert_array_equal(out, expected)


def test_horizontal_edge_filter_on_the_transposed_image():
    """The same image turned by 90° (bright top): the horizontal filter gives columns 0 30 30 0."""
    np.testing.assert_array_equal(_apply(STEP.T, filters.HORIZONTAL_EDGE), np.array([[0, 30, 30, 0]] * 4).T)
    np.testing.assert_array_equal(_apply(STEP.T, filters.VERTICAL_EDGE), np.zeros((4, 4)))


@pytest.mark.parametrize("name", ["laplacian_4", "laplacian_8", "sobel_x", "sobel_y", "vertical_edge",
                                  "horizontal_edge"])
def test_derivative_filters_sum_to_zero_so_flat_images_map_to_zero(name):
    kernel = filters.FILTERS[name]
    assert kernel.sum() == 0, f"{name} sums to {kernel.sum()}, but a derivative filter sums to 0"
    np.testing.assert_array_equal(_apply(np.full((6, 6), 7.0), kernel), np.zeros((6 - len(kernel) + 1,) * 2))


def test_gaussian_is_a_normalised_symmetric_blur():
    g = filters.GAUSSIAN_5x5
    assert g.shape == (5, 5)
    assert abs(g.sum() - 1) < 1e-12, f"GAUSSIAN_5x5 sums to {g.sum()}, but should sum to 1 (weights / 159)"
    np.testing.assert_array_equal(g, g.T)
    np.testing.assert_array_equal(g, g[::-1, ::-1])
    assert g[2, 2] * 159 == pytest.approx(15)
    np.testing.assert_allclose(_apply(np.full((7, 7), 3.0), g), np.full((3, 3), 3.0))


def test_sobel_pair_and_laplacians():
    np.testing.assert_array_equal(filters.SOBEL_Y, filters.SOBEL_X.T)
    np.testing.assert_array_equal(filters.LAPLACIAN_4, filters.LAPLACIAN_4.T)
    assert filters.LAPLACIAN_8[1, 1] == 8 and filters.LAPLACIAN_4[1, 1] == 4
    # Sobel x responds to the vertical edge of the step image, Sobel y not at all
    assert np.all(_apply(STEP, filters.SOBEL_X)[:, 1:3] == -40)
    np.testing.assert_array_equal(_apply(STEP, filters.SOBEL_Y), np.zeros((4, 4)))


def test_constants_are_read_only():
    with pytest.raises(ValueError):
        filters.SOBEL_X[0, 0] = 5
    with pytest.raises(ValueError, match="2-D"):
        filters.as_conv_weight(np.ones(3))
