"""Uses the libraries the layers assignment forbids."""
import numpy as np
import torch
from scipy.signal import correlate2d
from convcheck.reference import conv


def uses_torch(x):
    return torch.relu(torch.as_tensor(x)).numpy()


def uses_scipy(x):
    return correlate2d(x, x)


def uses_convcheck(x):
    return conv.conv_forward(x, x)


def imports_inside(x):
    import importlib
    return importlib.import_module("to" + "rch").zeros(1)


def clean(x):
    return np.maximum(x, 0)
