"""Keypoints -> ground-truth confidence maps, direction fields and loss masks (Eq. 1-4).

Coordinate convention shared with the parser: map cell (row i, col j) at output stride s is
centred on image pixel ((j + 0.5) * s - 0.5, (i + 0.5) * s - 0.5), image pixel centres being at
integer coordinates. `grid_to_image` / `image_to_grid` convert between the two.
"""

from service.targets.encode import (
    TargetConfig,
    Targets,
    encode,
    grid_to_image,
    image_to_grid,
    map_size,
)

__all__ = ["TargetConfig", "Targets", "encode", "grid_to_image", "image_to_grid", "map_size"]
