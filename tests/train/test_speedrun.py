"""`cnncost-train speedrun` end to end on CPU: --smoke on a generated CIFAR-10, the files it
writes, and every user error as one line with exit code 2."""
import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from cnncost_train.cli import app  # noqa: E402
from data_files import write_cifar  # noqa: E402

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["speedrun", *map(str, args)], env={"NO_COLOR": "1", "COLUMNS": "120"})


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for n in needles:
        assert n in lines[0]


def test_help_does_not_import_torch():
    code = "import sys; from cnncost_train.cli import app; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_smoke_writes_results_and_resumes(tmp_path):
    write_cifar(tmp_path / "data", per_batch=60)        # 300 train, 60 test images
    out, ck = tmp_path / "out", tmp_path / "ck"
    r = invoke("--smoke", "--data-dir", tmp_path / "data", "--out", out, "--checkpoint-dir", ck, "--runs", 2)
    assert r.exit_code == 0, r.output + r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["train_images"] == 256 and s["test_images"] == 60 and s["accuracy"]["n"] == 2
    assert s["cost"]["images_seen"] == 4 * 64 and s["cost"]["tta_views"] == 6
    # one image's training step as the calculator counts it (forward + backward, checked against
    # FlopCounterMode in the calculator's tests) x 256 images + forward x 60 test images x 6 views
    from cnncost import walk, zoo
    from cnncost.training.step import training_flops as step
    speedrun_net = zoo.get("speedrun")
    per_image = step(walk.analyze(speedrun_net.spec, (3, 32, 32)))
    assert s["cost"]["training_flops_per_run"] == per_image * 256 + s["cost"]["forward_flops_per_image"] * 60 * 6
    accs = [json.loads((out / f"run-00{i}.json").read_text())["acc"] for i in range(2)]
    assert s["accuracy"]["mean"] == pytest.approx(sum(accs) / 2)
    assert (out / "run-001.csv").read_text().startswith("epoch,step,train_loss,train_acc,lr,train_s,test_acc")
    assert (ck / "run-000.pt").is_file() and (ck / "run-001.pt").is_file()
    again = invoke("--smoke", "--data-dir", tmp_path / "data", "--out", out, "--checkpoint-dir", ck, "--runs", 2,
                   "--resume")
    assert again.exit_code == 0
    assert json.loads((out / "summary.json").read_text())["accuracy"]["mean"] == s["accuracy"]["mean"]
    assert "n/a on CPU" in again.output and s["cost"]["mfu"] is None          # no MFU against a CPU probe
    # a resume with options that change results is refused before anything runs: no mixed summary
    for args, diff in ((("--runs", 3), "runs 2 -> 3"),
                       (("--runs", 2, "--epochs", 2), "epochs")):
        r = invoke("--smoke", "--data-dir", tmp_path / "data", "--out", out, "--checkpoint-dir", ck, *args, "--resume")
        one_line_error(r, "--resume", "other options", diff)
    assert json.loads((out / "summary.json").read_text())["accuracy"]["n"] == 2


def test_missing_data(tmp_path):
    one_line_error(invoke("--data-dir", tmp_path / "none"), str(tmp_path / "none"), "cifar-10-python.tar.gz")


def test_missing_data_via_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOST_DATA", str(tmp_path / "env"))
    one_line_error(invoke("--runs", 1), str(tmp_path / "env"))


def test_truncated_data(tmp_path):
    write_cifar(tmp_path)
    f = tmp_path / "cifar-10-batches-py" / "test_batch"
    f.write_bytes(f.read_bytes()[:-2000])
    one_line_error(invoke("--smoke", "--data-dir", tmp_path), "test_batch", "damaged")


def test_wrong_labels(tmp_path):
    write_cifar(tmp_path, labels=[3] * 11 + [-1])
    one_line_error(invoke("--smoke", "--data-dir", tmp_path), "0..9")


def test_full_run_insists_on_counts(tmp_path):
    write_cifar(tmp_path)
    one_line_error(invoke("--data-dir", tmp_path, "--device", "cpu"), "expected 50000 and 10000")


@pytest.mark.parametrize("args, needle", [
    (("--smoke", "--resume"), "--resume needs --checkpoint-dir"),
    (("--smoke", "--recipe", "slow"), "unknown recipe 'slow'"),
    (("--smoke", "--runs", 0), "--runs must be at least 1"),
    (("--smoke", "--device", "tpu"), "--device must be cpu"),
])
def test_option_errors(args, needle):
    one_line_error(invoke(*args), needle)
