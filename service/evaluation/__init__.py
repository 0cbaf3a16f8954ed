"""poses + COCO ground truth -> keypoint AP; ground truth -> oracle maps -> poses.

`coco_eval` (pycocotools AP with a skeleton's sigmas, results JSON), `oracle` (maps and fields
encoded from the ground truth and parsed), `synthetic` (random keypoint scenes), `damage`
(damaged maps and boxes for robustness tests and the ablation), `command` (`boxpose eval`).
Real photos: `real_eval` (a pipeline with true or its own boxes -> AIC-14 predictions tied to
the ground truth), `real_metrics` (AP on a joint set, box AP), `pck` (PCK and per-joint errors),
`real_report` (all figures of one box mode and their text), `real_command` (`--dataset`).
"""
