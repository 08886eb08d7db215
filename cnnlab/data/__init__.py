"""Datasets and where they come from: the catalogue, local sources, readers, the CIFAR-10 archive check,
downloads, and a class's own pictures."""
