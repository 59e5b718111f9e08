"""galaxy-xai: explaining what deep networks learn from galaxy images."""
import os

__version__ = "0.2.0"

# TensorFlow reads this once, when it is first imported, and every import of TensorFlow in the
# project goes through this package first: so one setting holds for every stage and test.
# oneDNN kernels are ~2x faster on this CPU (bench/train_throughput.py; docs/performance.md), and
# naming the setting keeps hosts whose TensorFlow would default otherwise on the same kernels.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
