"""Networks: layer specs, the course's presets, shapes, parameter counts and FLOPs, the server's limits, and
building them in Keras."""
