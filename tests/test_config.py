import pytest

from tinyml import config
from tinyml.cli import main
from tinyml.errors import BadInput

from conftest import one_error_line


def test_defaults_when_there_is_no_file(tmp_path):
    cfg = config.load(tmp_path, environ={})
    assert cfg["project.sample_rate"] == 119
    assert cfg.sources["model.epochs"] == "default"


def test_precedence_flag_over_env_over_file_over_default(tmp_path):
    (tmp_path / "tinyml.toml").write_text("[model]\nepochs = 7\nbatch_size = 8\n[window]\nhop = 5\n")
    env = {"TINYML_MODEL_EPOCHS": "9", "TINYML_WINDOW_HOP": "6"}
    cfg = config.load(tmp_path, flags={"model.epochs": 11, "window.hop": None}, environ=env)
    assert cfg["model.epochs"] == 11 and cfg.sources["model.epochs"] == "flag"
    assert cfg["window.hop"] == 6 and cfg.sources["window.hop"] == "env TINYML_WINDOW_HOP"
    assert cfg["model.batch_size"] == 8 and cfg.sources["model.batch_size"].endswith("tinyml.toml")
    assert cfg["model.learning_rate"] == pytest.approx(0.003)


@pytest.mark.parametrize("text, fragment", [
    ("[model]\nepochs = 'many'\n", "model.epochs to be int"),
    ("[model]\nepochs = 0\n", "at least 1"),
    ("[project]\ntask = 'dance'\n", "project.task to be one of"),
    ("[project]\nlabels = []\n", "non-empty list"),
    ("[model]\nepoch = 3\n", "a known option"),
    ("[model\n", "valid TOML"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, fragment):
    (tmp_path / "tinyml.toml").write_text(text)
    with pytest.raises(BadInput, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        config.load(tmp_path, environ={})


def test_rendered_toml_reads_back_identically(tmp_path):
    cfg = config.load(tmp_path, flags={"model.epochs": 3, "project.labels": "a,b,c"}, environ={})
    (tmp_path / "tinyml.toml").write_text(config.render_toml(cfg.values))
    again = config.load(tmp_path, environ={})
    assert again.values == cfg.values


def test_init_writes_and_refuses_to_overwrite(tmp_path, capsys):
    assert main(["init", str(tmp_path / "p"), "--epochs", "5"]) == 0
    assert config.load(tmp_path / "p", environ={})["model.epochs"] == 5
    capsys.readouterr()
    assert main(["init", str(tmp_path / "p")]) == 2
    assert "--force" in one_error_line(capsys.readouterr().err)
    assert main(["init", str(tmp_path / "p"), "--force"]) == 0


def test_readme_documents_every_option():
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    for opt in config.OPTIONS:
        assert f"| `{opt.key}` |" in readme and f"`{opt.env}`" in readme, opt.key
