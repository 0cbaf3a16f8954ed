"""Annotated images -> training samples: (image, keypoints, boxes, ignore mask) -> tensors.

synth/: seeded random numbers -> synthetic scenes (and `boxpose synth` files); coco / aic:
COCO keypoint files and AI Challenger annotations -> `Sample`s in a skeleton's joint order with
an ignore mask of crowds and unannotated people; joint_maps: the one table from every real
source's joint order to AIC-14; lsp / mmpose_sets: LSP joints.mat and the mmpose test files ->
`real.ImageRecord`s (paths + AIC-14 people) -> `Sample`s or COCO ground truth; real_split: the
fixed real training / development split; augment: `Sample` -> randomly warped, flipped,
colour-jittered `Sample` of a fixed size; dataset: `Sample` -> image + maps, fields, mask
(Eq. 1-4) tensors, encoded in the DataLoader workers.
"""
