"""HTTP requests -> runtime jobs -> JSON (or PNG) responses: app factory, routes, schemas, errors.

HTTP only: decoding, batching and inference live in `service.runtime`.
"""
