#!/usr/bin/env bash
# bench/.venv: OpenPose's parser (controlnet_aux, --no-deps) for bench/openpose_parser.py, kept
# out of the project's virtualenv. It sees the project's packages (torch, numpy, scipy, opencv)
# through a .pth file, so no second torch is installed. Usage: bash bench/openpose_env.sh [python]
set -euo pipefail
project_python=${1:-.venv/bin/python}
"$project_python" -m venv bench/.venv
site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
echo "import site; site.addsitedir('$(site_of "$project_python")')" \
  > "$(site_of bench/.venv/bin/python)/boxpose-venv.pth"
bench/.venv/bin/pip install -q --no-deps controlnet_aux==0.0.10
touch bench/.venv/.installed
