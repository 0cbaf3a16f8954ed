"""Samples (image, maps, fields, mask) -> trained weights: loss (Eq. 6-8), loop, checkpoints.

Nothing at serving time imports this package.
"""
