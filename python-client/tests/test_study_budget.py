"""A study-wide trial budget and stop, enforced by the real server across workers (issue 13 §2).

Wire contract: ``create_study`` takes ``max_trials``; ops ``stop_study``/``resume_study``; once the
budget is spent or the study is stopped, ``ask`` fails with STUDY_STOPPED,
``data: {study, reason: "max_trials" | "stopped"}``."""

from __future__ import annotations

import threading

import pytest

import tuneport as tp
from conftest import ServerProcess

SPACE = {"x": tp.Float(0.0, 1.0)}


def test_max_trials_caps_every_worker_together(server: ServerProcess, name: str) -> None:
    with tp.connect(server.endpoint) as admin:
        admin.create_study(name, space=SPACE, max_trials=7)
        admin.load_study(name).enqueue_trial({"x": 0.5})  # an enqueued trial counts once it is asked
    done: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with tp.connect(server.endpoint) as client:
            for trial in client.load_study(name).ask_many(5):  # 3 workers x 5 would be 15 trials
                with trial:
                    trial.complete(float(trial.params["x"]))  # type: ignore[arg-type]
                with lock:
                    done.append(trial.number)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(done) == list(range(7))
    with tp.connect(server.endpoint) as client:
        study = client.load_study(name)
        assert study.max_trials == 7 and study.summary().max_trials == 7
        assert len(study.trials) == 7 and study.trials[0].params == {"x": 0.5}
        with pytest.raises(tp.StudyStopped) as caught:
            study.ask()
        assert caught.value.data["study"] == name and caught.value.data["reason"] == "max_trials"
        study.optimize(lambda t: 1.0, n_trials=3)  # ends quietly: nothing left to run
        assert len(study.trials) == 7


def test_stop_all_workers_and_resume(server: ServerProcess, name: str) -> None:
    with tp.connect(server.endpoint) as a, tp.connect(server.endpoint) as b:
        mine = a.create_study(name, space=SPACE)
        theirs = b.load_study(name)

        def objective(trial: tp.Trial) -> float:
            if trial.number == 2:
                theirs.stop(all_workers=True)  # another worker stops the study for everyone
            return 1.0

        mine.optimize(objective, n_trials=20)
        assert len(mine.trials) == 3  # the trial that was running when the study stopped finished
        with pytest.raises(tp.StudyStopped) as caught:
            theirs.ask()
        assert caught.value.data["study"] == name and caught.value.data["reason"] == "stopped"
        assert theirs.summary().stopped is True
        theirs.resume()
        assert theirs.summary().stopped is False
        mine.optimize(lambda t: 1.0, n_trials=2)
        assert len(mine.trials) == 5
