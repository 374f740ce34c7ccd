"""The `condense` command: help, listings, one-line errors, and a full distill -> evaluate -> show."""

import json

import pytest

from condensation.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for command in ("datasets", "models", "distill", "evaluate", "show"):
        assert command in out


def test_distill_help_names_the_papers_flags(capsys):
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    out = capsys.readouterr().out
    for flag in ("--method", "--ipc", "--init", "--strategy", "--preset", "--batch-real", "--eval-models", "--device"):
        assert flag in out


def test_models_lists_parameter_counts(capsys):
    code, out, _ = run(capsys, "models", "--dataset", "cifar10")
    assert code == 0
    assert "convnet " in out and "320,010" in out
    assert "9,231,114" in out and "11,173,962" in out
    code, out, _ = run(capsys, "models", "--dataset", "mnist")
    assert "317,706" in out


def test_datasets_reports_each_dataset(capsys, data_env):
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    for name in ("mnist", "fashion-mnist", "svhn", "cifar10", "cifar100", "tinyimagenet"):
        assert name in out
    assert "missing" in out  # nothing is found in the isolated environment


def test_invalid_choice_names_the_allowed_values(capsys):
    with pytest.raises(SystemExit) as e:
        main(["distill", "--method", "kip"])
    assert e.value.code == 2
    assert "choose from" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["ablate", "augmentation", "--preset", "slow"])
    assert e.value.code == 2
    assert "choose from 'paper', 'quick', 'fast'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["distill", "--dataset", "imagenet"], "valid"),
        (["distill", "--strategy", "color_blur", "--num-eval", "0"], "allowed ops"),
        (["distill", "--model", "transformer", "--iterations", "1", "--num-eval", "0"], "unknown model"),
        (["evaluate", "missing.pt"], "no synthetic-set file"),
        (["distill", "--resume"], "--resume needs --out"),
        (["distill", "--device", "tpu"], "allowed: auto, cpu, cuda"),
    ],
)
def test_bad_input_gets_a_one_line_error_and_no_traceback(capsys, toy_npz, argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if argv[0] == "distill" and "--dataset" not in argv:
        argv = argv + ["--dataset", f"npz:{toy_npz}"]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.startswith(f"condense {argv[0]}: error:")


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(capsys, data_env, tmp_path):
    code, _, err = run(capsys, "distill", "--dataset", "cifar10", "--data-dir", str(tmp_path / "nowhere"))
    assert code == 2
    assert "cifar-10-python.tar.gz" in err and str(tmp_path / "nowhere") in err
    assert "Traceback" not in err


def test_distill_evaluate_show_end_to_end(capsys, toy_npz, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys, "distill", "--dataset", f"npz:{toy_npz}", "--model", "convnetw32", "--iterations", "2",
        "--batch-real", "16", "--num-eval", "1", "--eval-epochs", "10", "--out", str(out_dir), "--quiet",
    )
    assert code == 0, err
    assert "random real images" in out and "convnetw32" in out
    results = json.loads((out_dir / "results.json").read_text())
    acc = results["accuracy"]["convnetw32"]["mean"]
    assert f"{100 * acc:.2f}" in out

    code, out, err = run(
        capsys, "evaluate", str(out_dir / "synset.pt"), "--models", "convnetw32,mlp", "--num-eval", "2",
        "--epochs", "10", "--json", str(tmp_path / "eval.json"),
    )
    assert code == 0, err
    evaluated = json.loads((tmp_path / "eval.json").read_text())["accuracy"]
    assert set(evaluated) == {"convnetw32", "mlp"} and len(evaluated["mlp"]["runs"]) == 2
    # network k is the same network whichever command trains it: same seed, same accuracy
    assert evaluated["convnetw32"]["runs"][0] == results["accuracy"]["convnetw32"]["runs"][0]

    code, out, _ = run(capsys, "show", str(out_dir / "synset.pt"), "-o", str(tmp_path / "grid.png"))
    assert code == 0 and (tmp_path / "grid.png").stat().st_size > 0

    code, _, err = run(capsys, "distill", "--dataset", f"npz:{toy_npz}", "--out", str(out_dir), "--quiet")
    assert code == 2 and "--resume" in err


def test_evaluate_prints_and_writes_a_table_per_architecture(capsys, toy_dataset, tmp_path):
    from condensation.config import DistillConfig
    from condensation.distill import distill

    distill(DistillConfig(iterations=1, model="convnetw32", batch_real=8, num_eval=0, compile="off"), tmp_path / "run",
            dataset=toy_dataset, progress=False, log=lambda m: None)
    code, out, err = run(capsys, "evaluate", str(tmp_path / "run" / "synset.pt"), "--models", "convnetw32,mlp",
                         "--num-eval", "1", "--epochs", "3", "--compile", "off")
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "synset.evaluation.json").read_text())["accuracy"]
    table = (tmp_path / "run" / "synset.evaluation.md").read_text()
    for model in ("convnetw32", "mlp"):
        cell = f"{100 * saved[model]['mean']:.2f}%"  # one network: no ± (issue #30 item 7)
        assert f"| {model} | {cell} | 1 |" in table and f"| {model} | {cell} | 1 |" in out
