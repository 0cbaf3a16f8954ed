"""Model store, pipeline and batching worker: images (+ boxes) -> poses, at serving time."""
