"""The one place TensorFlow is imported.

tinyml trains with tf_keras (Keras 2) rather than Keras 3: quantization-aware
training with tensorflow-model-optimization only works on tf_keras, and one
Keras for the whole pipeline keeps saved models loadable by every stage.
`TF_USE_LEGACY_KERAS` must be set before TensorFlow is first imported.
"""

from __future__ import annotations

import os
import sys

from tinyml.errors import TinymlError
from tinyml.log import captured_fd2


def load():
    """Return (tensorflow, tf_keras), importing them on first use."""
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise TinymlError("TensorFlow was imported before tinyml could select tf_keras; "
                          "set TF_USE_LEGACY_KERAS=1 before importing TensorFlow.")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide C++ log lines; Python errors still raise
    if "tensorflow" not in sys.modules:
        # The import narrates to fd 2 from C++ ("Could not find cuda drivers ..."); keep it
        # unless the import fails.
        with captured_fd2() as log:
            try:
                import tensorflow  # noqa: F401
                import tf_keras  # noqa: F401
            except ImportError:
                failed = True
            else:
                failed = False
        if failed:
            raise TinymlError("TensorFlow failed to import; run `make setup`. It said: " + log[0][-500:])
    import tensorflow as tf
    import tf_keras

    return tf, tf_keras


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    tf, keras = load()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
