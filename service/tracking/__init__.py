"""Poses per frame -> the same poses with track ids: frame-to-frame matching (OKS or box IoU,
an optimal assignment), ids kept through a few missed frames, optional One-Euro smoothing."""
