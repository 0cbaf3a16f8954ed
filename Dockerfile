# syntax=docker/dockerfile:1
# The boxpose REST service. CPU image by default; for NVIDIA GPUs build with --build-arg DEVICE=cuda
#   docker build -t boxpose:cpu .
#   docker build --build-arg DEVICE=cuda -t boxpose:gpu .
# DEVICE picks the base stage below and with it the torch 2.13.0 wheel index: CUDA wheels carry
# their own CUDA runtime libraries, so both images are Debian slim and a GPU host needs only the
# NVIDIA driver and container toolkit. CUDA_VARIANT names the CUDA build of torch (the wheel
# index's directory); PYTHON_IMAGE the Python 3.11 base of both stages.
ARG DEVICE=cpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base-cpu
ENV TORCH_INDEX=https://download.pytorch.org/whl/cpu

FROM ${PYTHON_IMAGE} AS base-cuda
ARG CUDA_VARIANT=cu128
ENV TORCH_INDEX=https://download.pytorch.org/whl/${CUDA_VARIANT} \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# Build: a virtual environment with the dependencies (cached while only the code changes), then
# the package itself (with its static page) installed into it.
# (base-${DEVICE} is a stage above, not an image: hadolint cannot tell)
# hadolint ignore=DL3006
FROM base-${DEVICE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
RUN mkdir service && touch service/__init__.py \
 && pip install --no-cache-dir --extra-index-url "${TORCH_INDEX}" . \
 && pip uninstall --yes boxpose
COPY service ./service
RUN pip install --no-cache-dir --no-deps .

# Runtime: the environment and the models, no compilers, no pip cache, a non-root user.
# hadolint ignore=DL3006
FROM base-${DEVICE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    BOXPOSE_MODEL_STORE=/app/model_store \
    BOXPOSE_HOST=0.0.0.0 \
    BOXPOSE_PORT=8000 \
    BOXPOSE_DEVICE=auto \
    BOXPOSE_SHUTDOWN_DELAY_S=0 \
    BOXPOSE_DRAIN_TIMEOUT_S=30
RUN groupadd --system --gid 10001 boxpose \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin boxpose
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY model_store ./model_store
USER 10001:10001
EXPOSE 8000
# Liveness: /healthz answers while the models load (/readyz is for load balancers).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BOXPOSE_PORT', '8000'), timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["boxpose", "serve"]
