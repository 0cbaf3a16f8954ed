"""Folders of photos -> COCO-format pseudo-labels (keypoints with per-joint confidences) from a
served pose model (the BlazePose top-down one by default), for training on unlabelled people."""
