"""cnnlab: an interactive lab for learning convolutional neural networks.

The package never imports streamlit, and importing it does not import TensorFlow: the pages,
the command line (`python -m cnnlab`) and the tests all use the same functions.
"""

import os

# TensorFlow's C++ start-up chatter is not for students; set before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
