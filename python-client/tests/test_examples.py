"""Every Python example in examples/ runs here against a real server (the demo starts its own)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO, ServerProcess


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(
        # One OpenMP thread unless the caller says otherwise: the examples' models are tiny, and on a
        # busy machine torch's thread pool makes them 10-100x slower.
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={"OMP_NUM_THREADS": "1", **os.environ, **(env or {})},
    )
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def test_demo_runs_end_to_end() -> None:
    out = run(["examples/demo.py", "--trials", "3", "--epochs", "2"])
    assert "best trial" in out
    assert "COMPLETE" in out  # the stored trials, read back by `tuneport studies trials`


def test_pytorch_digits_against_a_running_server(server: ServerProcess) -> None:
    out = run(["examples/pytorch_digits.py", "--endpoint", server.endpoint, "--trials", "3", "--epochs", "2",
               "--study", "digits-example", "--strategy", "tpe"])
    assert out.count("val_loss=") >= 3
    assert "best trial" in out


def test_pbt_digits_against_a_running_server(server: ServerProcess, tmp_path: os.PathLike[str]) -> None:
    ckpt = os.path.join(tmp_path, "ckpt")
    args = ["examples/pbt_digits.py", "--endpoint", server.endpoint, "--epochs", "6", "--interval", "1",
            "--study", "pbt-example", "--checkpoint-dir", ckpt]
    out = run(args)
    assert "<- trial" in out  # at least one exploit loaded a donor's checkpoint
    assert "schedule that produced it" in out and "from epoch   0" in out
    # Retention: the server released every checkpoint once the members finished; none is left.
    files = [f for _, _, fs in os.walk(ckpt) for f in fs]
    assert files == [], files
    # Run again on the same study (it raised AlreadyExistsError): a new population of 4 members
    # grows beside the finished one and exploits only among itself.
    again = run(args)
    assert "study pbt-example has 4 trials already: 4 more members" in again
    assert sorted(int(n) for n in re.findall(r"trial (\d+)  val_loss=", again)) == [4, 5, 6, 7], again
    donors = [int(n) for n in re.findall(r"<- trial (\d+)", again)]
    assert donors and min(donors) >= 4, again
    assert "schedule that produced it" in again
    files = [f for _, _, fs in os.walk(ckpt) for f in fs]
    assert files == [], files


def test_hypergradient_digits_against_a_running_server(server: ServerProcess) -> None:
    out = run(["examples/hypergradient_digits.py", "--endpoint", server.endpoint, "--trials", "2", "--epochs", "6",
               "--study", "hypergradient-example"])
    assert out.count("val_loss=") >= 2
    assert "moved over 6 reports" in out  # the trajectory read back from the server


def test_hypergradient_digits_with_non_blocking_reports(server: ServerProcess) -> None:
    # Every queued report reaches the server before the trial completes (complete waits for
    # them), and the updates they get back are applied: the trajectory has one point per report.
    out = run(["examples/hypergradient_digits.py", "--endpoint", server.endpoint, "--trials", "1", "--epochs", "4",
               "--study", "hypergradient-example-no-wait", "--no-wait"])
    assert out.count("val_loss=") >= 1
    assert "moved over 4 reports" in out

def test_pruning_digits_asha_promotion_resumes_from_checkpoints(server: ServerProcess, tmp_path: os.PathLike[str]) -> None:
    args = ["examples/pruning_digits.py", "--endpoint", server.endpoint, "--trials", "10", "--max-epochs", "9",
            "--study", "digits-asha-promotion", "--mode", "promotion", "--checkpoint-dir", os.path.join(tmp_path, "ckpt")]
    out = run(args)
    assert out.count("COMPLETE") == 10  # promotion mode stops nothing
    assert " resumes " in out  # at least one promotion loaded a checkpoint
    assert "best trial" in out
    # Run again: the study is loaded (load_if_exists) and the first asks promote trials of the
    # first run, whose checkpoints must have outlived it.
    again = run(args)
    resumed = [int(n) for n in re.findall(r" resumes (\d+)", again)]
    assert any(n < 10 for n in resumed), again
    assert again.count("COMPLETE") == 10


def test_pruning_digits_asha_stopping_prunes(server: ServerProcess, tmp_path: os.PathLike[str]) -> None:
    out = run(["examples/pruning_digits.py", "--endpoint", server.endpoint, "--trials", "8", "--max-epochs", "9",
               "--study", "digits-asha-stopping", "--mode", "stopping", "--checkpoint-dir", os.path.join(tmp_path, "ckpt")])
    assert "PRUNED" in out and "best trial" in out


def test_lightning_digits_with_the_pruning_callback(server: ServerProcess) -> None:
    out = run(["examples/lightning_digits.py", "--endpoint", server.endpoint, "--trials", "5", "--max-epochs", "3",
               "--study", "digits-lightning"])
    assert out.count("  trial ") == 5
    assert "best trial" in out


def test_readme_snippets_do_not_reuse_an_examples_study_name() -> None:
    """With load_if_exists, two scripts sharing a study name with different spaces collide."""
    snippets = (REPO / "README.md").read_text() + (REPO / "python-client" / "README.md").read_text()
    readme_names = set(re.findall(r'create_study\(\s*"([^"]+)"', snippets))
    assert readme_names, "no create_study in the READMEs"
    example_names = set()
    for path in (REPO / "examples").glob("*.py"):
        example_names |= set(re.findall(r'"--study", default="([^"]+)"', path.read_text()))
    assert example_names and not readme_names & example_names


def test_multiobjective_digits_prints_a_feasible_front(server: ServerProcess) -> None:
    out = run(["examples/multiobjective_digits.py", "--endpoint", server.endpoint, "--trials", "12", "--epochs", "2",
               "--study", "digits-multiobjective"])
    assert "strategy auto" in out
    m = re.search(r"pareto front: (\d+) trials \((\d+) feasible of 12 complete\), hypervolume ([0-9.e+-]+)", out)
    assert m, out
    assert int(m.group(1)) >= 1 and float(m.group(3)) > 0
    sizes = [int(s) for s in re.findall(r"params\s+(\d+)", out)]
    assert len(sizes) == int(m.group(1))
    assert all(s <= 20_000 for s in sizes)  # the constraint holds on the front
    accs = [float(a) for a in re.findall(r"accuracy ([0-9.]+)", out)]
    # Sorted by size, a front's accuracy rises with it (no point dominates another).
    assert accs == sorted(accs)
