"""The console script answers --help and lists every command."""

import subprocess
import sys

from service.cli import COMMANDS, main


def test_help_lists_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_console_script_help():
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "serve" in proc.stdout and "eval" in proc.stdout


def test_export_params_prints_presets(capsys):
    assert main(["export", "--params"]) == 0
    out = capsys.readouterr().out
    assert "paper" in out and "lite" in out and "27.42M" in out


def test_missing_model_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    import json

    from service.data.synth.writer import categories

    (tmp_path / "a.json").write_text(
        json.dumps({"images": [], "annotations": [], "categories": categories()})
    )
    code = main(["eval", "--annotations", str(tmp_path / "a.json"), "--images", str(tmp_path),
                 "--model", "no-such-model"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no-such-model" in err and "not found" in err and "Traceback" not in err
