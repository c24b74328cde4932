"""gunicorn settings that profile each worker of a bench run (issue 20: where a worker's CPU goes under load).

    GUNICORN_CMD_ARGS="-c bench/gunicorn_profile.conf.py" PROFILE_DIR=/tmp/wp \\
        .venv/bin/python bench/load.py --hot --users 8 --seconds 15 --no-pgbench

bench/load.py starts gunicorn with the environment it runs in, so ``GUNICORN_CMD_ARGS`` reaches it. Each
worker runs under ``cProfile`` with a CPU clock (``time.process_time``: the time a worker waits for
PostgreSQL is not counted) from its fork to its exit and writes ``$PROFILE_DIR/w<pid>.pstats``; read
them together with ``pstats.Stats(*glob.glob(f"{PROFILE_DIR}/*.pstats"))``. The profiler cuts the
rate to about a quarter (55 completions a second against 207 here): such a run gives shares, not the rate.
"""
import cProfile
import os
import time


def post_fork(server, worker):
    worker.cpu_profile = cProfile.Profile(time.process_time)
    worker.cpu_profile.enable()


def worker_exit(server, worker):
    profile = getattr(worker, "cpu_profile", None)
    if profile is None:
        return
    profile.disable()
    target = os.environ.get("PROFILE_DIR") or "."
    os.makedirs(target, exist_ok=True)
    profile.dump_stats(os.path.join(target, f"w{os.getpid()}.pstats"))
