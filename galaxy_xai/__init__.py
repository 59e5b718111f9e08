"""galaxy-xai: explaining what deep networks learn from galaxy images."""
import os

__version__ = "0.2.0"

# TensorFlow reads this once, when it is first imported, and every import of TensorFlow in the
# project goes through this package first: so one setting holds for every stage and test.
# Unset, TensorFlow decides by the CPU (on with AVX512_VNNI / BF16, off with AVX2 only), so hosts
# ran different kernels; oneDNN is also the faster (docs/measurements.md).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
