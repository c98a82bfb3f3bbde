"""Rebuild jobs with stand-in child processes: progress, outcome, crashes, queueing."""

import logging
import sys
import time

import pytest

from service.jobs import Job, Jobs

BUILD = """
import json, sys
print(json.dumps({"stage": "embedding", "done": 3, "total": 4}), flush=True)
print("some log line")
print(json.dumps({"plan": "1 added", "version": "v2", "created": True}), flush=True)
"""


def _wait(jobs: Jobs, job_id: str) -> Job:
    deadline = time.monotonic() + 20
    while jobs.get(job_id).state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
    return jobs.get(job_id)


def test_a_job_reports_the_outcome_of_its_build(caplog: pytest.LogCaptureFixture) -> None:
    jobs = Jobs([sys.executable, "-c", BUILD])
    with caplog.at_level(logging.INFO, logger="service.jobs"):
        done = _wait(jobs, jobs.start("corpus changed: a.md").job_id)
    assert (done.state, done.stage, done.done, done.total) == ("succeeded", "done", 3, 4)
    assert (done.plan, done.version, done.created, done.error) == ("1 added", "v2", True, None)
    # The server's log says what the rebuild did.
    assert caplog.messages == [
        f"rebuild job {done.job_id} (corpus changed: a.md): 1 added; generation v2"
    ]


def test_a_crashed_or_killed_build_fails_its_job_with_the_reason() -> None:
    crash = "import sys; print('Error: Another build (pid 7) is running'); sys.exit(1)"
    failed = _wait(jobs := Jobs([sys.executable, "-c", crash]), jobs.start("x").job_id)
    assert (failed.state, failed.error) == (
        "failed",
        "the build exited with 1: Error: Another build (pid 7) is running",
    )
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    killed = _wait(jobs := Jobs([sys.executable, "-c", kill]), jobs.start("x").job_id)
    assert (killed.state, killed.error) == ("failed", "the build killed by signal 9")


def test_requests_while_a_job_runs_share_one_queued_job() -> None:
    jobs = Jobs([sys.executable, "-c", "import time; time.sleep(0.5); " + BUILD])
    running = jobs.request("uploaded a.txt")
    queued = jobs.request("uploaded b.txt")
    again = jobs.request("deleted c.txt")
    assert (running.state, queued.state) == ("running", "queued")
    assert again.job_id == queued.job_id
    assert again.reason == "uploaded b.txt; deleted c.txt"
    assert _wait(jobs, running.job_id).state == "succeeded"
    assert _wait(jobs, queued.job_id).state == "succeeded"


def test_output_that_is_not_utf8_does_not_stop_following_the_build() -> None:
    noisy = "import sys; sys.stdout.buffer.write(b'caf\\xe9 \\xff\\n'); sys.stdout.flush()\n"
    jobs = Jobs([sys.executable, "-c", noisy + BUILD])
    done = _wait(jobs, jobs.start("requested").job_id)
    assert (done.state, done.version, done.error) == ("succeeded", "v2", None)


def test_a_build_whose_output_cannot_be_followed_fails_and_frees_the_next() -> None:
    broken = 'print(\'{"stage": "embedding"}\', flush=True); import time; time.sleep(30)'
    jobs = Jobs([sys.executable, "-c", broken])
    started = time.monotonic()
    failed = _wait(jobs, jobs.start("requested").job_id)
    assert failed.state == "failed"
    assert failed.error == "following the build failed: KeyError: 'done'"
    assert time.monotonic() - started < 20
    assert jobs.start("again").state == "running"
    jobs.close()
