"""Rebuild jobs: `herein build` in a child process, one at a time, owned by one server.

A child process keeps a crash, a kill or the memory of a build away from the server,
and runs at a lower CPU priority so queries keep theirs. The child reports its stages
as JSON lines on stdout; anything else it prints is kept as the job's last message.
"""

import json
import logging
import subprocess
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from service.errors import JobNotFound, RebuildRunning

logger = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"


@dataclass(frozen=True)
class Job:
    """A rebuild and where it stands: `stage` and done/total while running, then the outcome."""

    job_id: str
    reason: str
    state: str
    created_at: str
    stage: str | None = None
    done: int = 0
    total: int = 0
    plan: str | None = None
    version: str | None = None
    created: bool | None = None
    error: str | None = None
    finished_at: str | None = None


class Jobs:
    """The rebuild jobs of one index: at most one running, at most one queued behind it."""

    def __init__(self, command: Sequence[str], keep: int = 100) -> None:
        self._command = list(command)
        self._keep = keep
        self._jobs: dict[str, Job] = {}
        self._running: str | None = None
        self._queued: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start(self, reason: str) -> Job:
        """Start a rebuild now; raises RebuildRunning naming the job already running."""
        with self._lock:
            if self._running is not None:
                raise RebuildRunning(f"Rebuild job {self._running} is running; wait for it")
            return self._launch(self._new(reason))

    def request(self, reason: str) -> Job:
        """A rebuild that will see the corpus as it is now: started now, or queued behind
        the running one (requests while one is queued share it)."""
        with self._lock:
            if self._running is None:
                return self._launch(self._new(reason))
            if self._queued is None:
                self._queued = self._new(reason).job_id
            else:
                queued = self._jobs[self._queued]
                self._jobs[self._queued] = replace(queued, reason=f"{queued.reason}; {reason}")
            return self._jobs[self._queued]

    def get(self, job_id: str) -> Job:
        """The job as it stands; raises JobNotFound."""
        with self._lock:
            try:
                return self._jobs[job_id]
            except KeyError:
                raise JobNotFound(f"No rebuild job {job_id!r}") from None

    def close(self) -> None:
        """Stop the running build, if any (killing a build never harms the index)."""
        with self._lock:
            self._closed = True
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _new(self, reason: str) -> Job:
        job = Job(uuid.uuid4().hex[:12], reason, QUEUED, _now())
        self._jobs[job.job_id] = job
        finished = [j for j in self._jobs.values() if j.state in (SUCCEEDED, FAILED)]
        for old in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[old.job_id]
        return job

    def _launch(self, job: Job) -> Job:
        # Called with the lock held.
        job = self._jobs[job.job_id] = replace(job, state=RUNNING)
        self._running = job.job_id
        try:
            self._process = subprocess.Popen(
                self._command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                # A build's output is the user's file names and messages: any bytes.
                errors="replace",
            )
        except OSError as error:
            self._finish(job.job_id, f"cannot start the build: {error}", None)
            return self._jobs[job.job_id]
        threading.Thread(target=self._follow, args=(job.job_id, self._process), daemon=True).start()
        return job

    def _follow(self, job_id: str, process: subprocess.Popen[str]) -> None:
        last_message = ""
        outcome: dict[str, object] = {}
        failure: str | None = None
        try:
            lines: Iterable[str] = process.stdout if process.stdout is not None else []
            for line in lines:
                line = line.strip()
                try:
                    record = json.loads(line) if line.startswith("{") else None
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    if line:
                        last_message = line
                    continue
                with self._lock:
                    job = self._jobs[job_id]
                    if "stage" in record:
                        job = replace(
                            job, stage=record["stage"], done=record["done"], total=record["total"]
                        )
                    else:
                        outcome = record
                    self._jobs[job_id] = job
        except Exception as problem:
            # Whatever goes wrong here, the job must end and the child be reaped, or the
            # job stays "running" and every later rebuild gets a 409.
            failure = f"following the build failed: {type(problem).__name__}: {problem}"
            logger.exception("following rebuild job %s failed", job_id)
            process.kill()
        finally:
            code = process.wait()
            if process.stdout is not None:
                process.stdout.close()
            error = failure
            if error is None and (code != 0 or not outcome):
                reason = f"killed by signal {-code}" if code < 0 else f"exited with {code}"
                error = f"the build {reason}" + (f": {last_message}" if last_message else "")
            with self._lock:
                self._finish(job_id, error, outcome)
                queued, self._queued = self._queued, None
                if queued is not None and not self._closed:
                    self._launch(self._jobs[queued])

    def _finish(self, job_id: str, error: str | None, outcome: dict[str, object] | None) -> None:
        # Called with the lock held.
        job = self._jobs[job_id]
        fields = {} if error else (outcome or {})
        self._jobs[job_id] = replace(
            job,
            state=FAILED if error else SUCCEEDED,
            # A failed job keeps the stage it failed in; a build with nothing to do
            # stops while chunking, which would read as unfinished.
            stage=job.stage if error else "done",
            error=error,
            plan=_text(fields.get("plan")),
            version=_text(fields.get("version")),
            created=bool(fields["created"]) if "created" in fields else None,
            finished_at=_now(),
        )
        if error:
            logger.error("rebuild job %s failed: %s", job_id, error)
        else:
            # What the server's log shows of a rebuild it ran (after an upload, or --watch).
            done = self._jobs[job_id]
            made = f"generation {done.version}" if done.created else "no new generation"
            logger.info("rebuild job %s (%s): %s; %s", job_id, job.reason, done.plan, made)
        self._running = None
        self._process = None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
