import subprocess
import sys

import pytest

from tinyml.cli import COMMANDS, main


def test_every_command_has_help_and_none_imports_tensorflow():
    code = (
        "import sys\n"
        "from tinyml.cli import main, COMMANDS\n"
        "assert main(['--help']) == 0\n"
        "for name in COMMANDS:\n"
        "    assert main([name, '--help']) == 0, name\n"
        "print('tensorflow' in sys.modules, 'tf_keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_the_pipeline_commands_are_all_there():
    assert list(COMMANDS) == ["init", "collect", "export", "train", "tune", "quantize", "inspect", "codegen",
                              "build", "flash", "emulate", "evaluate", "demo"]


def test_usage_errors_exit_2(capsys):
    assert main(["no-such-command"]) == 2
    assert main([]) == 2
    assert main(["inspect"]) == 2  # missing MODEL


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "tinyml.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("tinyml ")


def test_emulate_needs_a_model(capsys):
    assert main(["emulate"]) == 2
    assert "model" in capsys.readouterr().err


def test_a_path_that_cannot_be_created_is_one_line(tmp_path, capsys):
    from conftest import one_error_line

    (tmp_path / "file").write_text("x")
    assert main(["init", str(tmp_path / "file" / "project")]) == 1
    assert "file" in one_error_line(capsys.readouterr().err)
