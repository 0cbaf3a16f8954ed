"""boxpose: multi-person 2D pose estimation.

image -> network (confidence maps, direction fields) -> parsing in person boxes -> poses -> HTTP.
"""

__version__ = "0.1.0"
