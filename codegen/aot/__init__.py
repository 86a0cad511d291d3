"""The interpreter-free C backend: an int8 .tflite -> plain C99 with a static memory plan."""
