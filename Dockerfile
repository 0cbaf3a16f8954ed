# boxpose REST service: CPU image by default; build with
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124  for a CUDA image (then run
#   with a GPU and BOXPOSE_DEVICE=cuda; BOXPOSE_FP16=true halves the forward time on most GPUs).
FROM python:3.11-slim AS base

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first (cached while only the code changes). torch from its own index: the CPU
# wheel is a tenth of the CUDA one.
COPY pyproject.toml README.md ./
RUN mkdir service && touch service/__init__.py \
 && pip install --extra-index-url "${TORCH_INDEX}" . \
 && pip uninstall -y boxpose && rm -rf service build *.egg-info

COPY service ./service
COPY model_store ./model_store
# Editable (no-deps) install: the package data (static page) and model_store/ stay in /app.
RUN pip install --no-deps -e . \
 && useradd --system --uid 10001 --home /app boxpose
USER 10001

ENV BOXPOSE_HOST=0.0.0.0 \
    BOXPOSE_PORT=8000 \
    BOXPOSE_DEVICE=auto \
    BOXPOSE_SHUTDOWN_DELAY_S=0 \
    BOXPOSE_DRAIN_TIMEOUT_S=30
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)" || exit 1
STOPSIGNAL SIGTERM
CMD ["boxpose", "serve"]
