"""poses + COCO ground truth -> keypoint AP; ground truth -> oracle maps -> poses.

`coco_eval` (pycocotools AP with a skeleton's sigmas, results JSON), `oracle` (maps and fields
encoded from the ground truth and parsed), `synthetic` (random keypoint scenes), `damage`
(damaged maps and boxes for robustness tests and the ablation), `command` (`boxpose eval`).
"""
