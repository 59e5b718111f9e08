"""What a run's numbers depend on besides the code and the data: the CPU and TensorFlow's kernels.

Every metrics file written by a stage that ran TensorFlow records this (`layout.write_metrics`),
so that `dvc metrics diff` between two hosts can be read: a different `onednn` or CPU feature set
means different kernels, and differences in the last digits of a trained model
(docs/measurements.md).
"""
from __future__ import annotations

import os
import platform
import sys

# The instruction sets that decide which kernels oneDNN and Eigen choose.
CPU_FEATURES = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu() -> dict:
    """CPU model, logical core count and the kernel-relevant instruction sets (Linux /proc/cpuinfo;
    elsewhere only the platform's name)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), "features": [f for f in CPU_FEATURES if f in flags]}


def tensorflow_settings() -> dict | None:
    """TensorFlow's version, whether oneDNN kernels are on, the thread pools and the visible
    devices; None when this process never imported TensorFlow (nothing to record)."""
    if "tensorflow" not in sys.modules:
        return None
    import keras
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port  # the flag TensorFlow itself reports

    threads = tf.config.threading
    return {
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "onednn": bool(_pywrap_util_port.IsMklEnabled()),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        # 0 means TensorFlow's default: one thread per logical core
        "intra_op_threads": threads.get_intra_op_parallelism_threads(),
        "inter_op_threads": threads.get_inter_op_parallelism_threads(),
        "devices": sorted({d.device_type for d in tf.config.list_logical_devices()}),
        "deterministic_ops": os.environ.get("TF_DETERMINISTIC_OPS") == "1",
    }


def record() -> dict | None:
    """The `machine` entry of a metrics file, or None for a stage without TensorFlow."""
    settings = tensorflow_settings()
    return None if settings is None else {"cpu": cpu(), **settings, "python": platform.python_version()}
