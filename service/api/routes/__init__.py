"""One router per resource: poses (and render), models, health and metrics, the upload page."""
