#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The roundtrip scenario from Python: the main thread hands one job to a
# worker, gets the result back on its event loop, then hands the next one.
# Prints one JSON line, like ag-bench.
#
#   bench.py --mechanism py-ag-wait --n 5000 --pin split
#
# Mechanisms:
#   py-ag-wait      Ag.Caller.get_main().to_thread(job); pending.wait_async()
#                   and wait_finish() on a GLib main loop (the raw
#                   introspected API: no overrides yet)
#   py-ag-done-on   the same, with pending.add_done_callback_on(caller, cb)
#   py-ag-await     asyncio: await caller.to_thread(job) through an asyncio
#                   future that a done callback resolves with
#                   loop.call_soon_threadsafe() (what awaiting a pending on
#                   asyncio takes without overrides: PyGObject 3.42 has no
#                   GLib event loop for asyncio)
#   py-executor     asyncio: await loop.run_in_executor(ThreadPoolExecutor, f)
#   py-thread-idle  the usual PyGObject idiom: a threading.Thread per job,
#                   which hands its result back with GLib.idle_add()
#   py-worker-idle  one long-lived worker thread fed through a queue, results
#                   back with GLib.idle_add()
#
# Every result is checked: delivered once, right value, on the main thread,
# computed on another thread. --smoke runs every mechanism with a tiny N.
#
# Run it with /usr/bin/python3 (Debian's, which has gi), with GI_TYPELIB_PATH
# and LD_LIBRARY_PATH pointing at the build (bench/run does that).

import argparse
import asyncio
import concurrent.futures
import json
import os
import queue
import sys
import threading
import time

MECHANISMS = ['py-ag-wait', 'py-ag-done-on', 'py-ag-await', 'py-executor',
              'py-thread-idle', 'py-worker-idle']

now_ns = time.monotonic_ns


def job_value(i):
    return i * 7 + 3


class Run:
    """The state of one run: checks every result and records latencies."""

    def __init__(self, mechanism, n, warmup, pin):
        self.mechanism = mechanism
        self.n = n
        self.warmup = warmup
        self.total = n + warmup
        self.pin = pin
        self.main_ident = threading.get_ident()
        self.seen = bytearray(self.total)
        self.latency_us = []
        self.errors = []
        self.delivered = 0
        self.t_submit = 0
        self.worker_tids = set()
        self.threads_lock = threading.Lock()

    def fail(self, message):
        if len(self.errors) < 10:
            print(f'bench.py: {self.mechanism}: {message}', file=sys.stderr)
        self.errors.append(message)

    def job(self, i):
        """What every job does, on its worker thread."""
        # Not threading.local: PyGObject gives a thread that GLib made a new
        # Python thread state for every callback.
        tid = threading.get_native_id()
        if tid not in self.worker_tids:
            with self.threads_lock:
                self.worker_tids.add(tid)
            if self.pin == 'split':
                pin_self(1)
        if threading.get_ident() == self.main_ident:
            self.fail(f'job {i} ran on the main thread')
        return job_value(i)

    def deliver(self, i, value):
        """Checks one result; returns True while more jobs are to come."""
        t = now_ns()
        if threading.get_ident() != self.main_ident:
            self.fail(f'result {i} delivered on another thread')
        if not 0 <= i < self.total:
            self.fail(f'result for unknown job {i}')
            return False
        if self.seen[i]:
            self.fail(f'result {i} delivered twice')
        self.seen[i] += 1
        if value != job_value(i):
            self.fail(f'result {i}: value {value}, expected {job_value(i)}')
        if i >= self.warmup:
            self.latency_us.append((t - self.t_submit) / 1000.0)
        self.delivered += 1
        return self.delivered < self.total

    def result(self):
        missing = self.seen.count(0)
        if missing:
            self.fail(f'{missing} results missing')
        lat = sorted(self.latency_us)
        n = len(lat)
        out = {
            'scenario': 'py-roundtrip', 'mechanism': self.mechanism,
            'pin': self.pin, 'n': self.n,
            'median_us': round(lat[n // 2], 3) if n else 0,
            'p99_us': round(lat[int(0.99 * (n - 1))], 3) if n else 0,
            'mean_us': round(sum(lat) / n, 3) if n else 0,
            'min_us': round(lat[0], 3) if n else 0,
            'max_us': round(lat[-1], 3) if n else 0,
            'wall_s': round(self.wall_s, 4),
            'threads': len(self.worker_tids), 'errors': len(self.errors),
            'ok': not self.errors,
            'python': '%d.%d.%d' % sys.version_info[:3],
        }
        return out


def pin_self(cpu):
    # On Linux, pid 0 is the calling thread.
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as e:
        print(f'bench.py: cannot pin to CPU {cpu}: {e}', file=sys.stderr)


# GLib-based mechanisms {{{

def run_glib(run, submit, timeout):
    from gi.repository import GLib

    loop = GLib.MainLoop()
    run.loop = loop
    fired = []

    def watchdog():
        run.fail(f'timed out: {run.delivered} of {run.total} results')
        fired.append(True)
        loop.quit()
        return GLib.SOURCE_REMOVE

    source = GLib.timeout_add_seconds(timeout, watchdog)
    start = now_ns()
    run.t_submit = now_ns()
    submit(0)
    loop.run()
    run.wall_s = (now_ns() - start) / 1e9
    if not fired:
        GLib.source_remove(source)


def next_or_quit(run, i, value, submit):
    if run.deliver(i, value):
        run.t_submit = now_ns()
        submit(run.delivered)
    else:
        run.loop.quit()


def import_ag():
    import gi
    gi.require_version('AsyncGObject', '1')
    from gi.repository import AsyncGObject as Ag
    return Ag


def ag_job(run):
    """The job function of caller.to_thread(): sets the pending's value."""
    def job(pending, i):
        pending.set_int(run.job(i))
        return None
    return job


def bench_ag(run, timeout, done_on):
    caller = import_ag().Caller.get_main()
    job = ag_job(run)

    def waited(pending, result, i):
        try:
            pending.wait_finish(result)
            value = pending.get_int()
        except Exception as e:  # noqa: BLE001
            run.fail(f'job {i} failed: {e}')
            value = None
        next_or_quit(run, i, value, submit)

    def done(pending, i):
        try:
            value = pending.get_int()
        except Exception as e:  # noqa: BLE001
            run.fail(f'job {i} failed: {e}')
            value = None
        next_or_quit(run, i, value, submit)

    def submit(i):
        pending = caller.to_thread(job, i)
        if done_on:
            pending.add_done_callback_on(caller, done, i)
        else:
            pending.wait_async(-1, False, None, waited, i)

    run_glib(run, submit, timeout)


def bench_thread_idle(run, timeout):
    from gi.repository import GLib

    def delivered(i, value):
        next_or_quit(run, i, value, submit)
        return GLib.SOURCE_REMOVE

    def work(i):
        GLib.idle_add(delivered, i, run.job(i))

    def submit(i):
        thread = threading.Thread(target=work, args=(i,), daemon=True)
        thread.start()

    run_glib(run, submit, timeout)


def bench_worker_idle(run, timeout):
    from gi.repository import GLib

    requests = queue.SimpleQueue()

    def delivered(i, value):
        next_or_quit(run, i, value, submit)
        return GLib.SOURCE_REMOVE

    def worker():
        while True:
            i = requests.get()
            if i is None:
                return
            GLib.idle_add(delivered, i, run.job(i))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()

    def submit(i):
        requests.put(i)

    run_glib(run, submit, timeout)
    requests.put(None)
    thread.join()

# }}}


def bench_ag_await(run, timeout):
    caller = import_ag().Caller.get_main()
    job = ag_job(run)

    def future_of(pending, loop):
        """An asyncio future that gets the pending's value or error."""
        future = loop.create_future()

        def resolve(done):
            if future.cancelled():
                return
            try:
                future.set_result(done.get_int())
            except Exception as e:  # noqa: BLE001
                future.set_exception(e)

        # Runs in the thread that completes the pending (a worker), or at
        # once if it is done already.
        pending.add_done_callback(
            lambda done: loop.call_soon_threadsafe(resolve, done))
        return future

    async def main():
        loop = asyncio.get_running_loop()
        start = now_ns()
        for i in range(run.total):
            run.t_submit = now_ns()
            pending = caller.to_thread(job, i)
            try:
                value = await asyncio.wait_for(future_of(pending, loop),
                                               timeout)
            except Exception as e:  # noqa: BLE001
                # A time-out or an error: the results not had are reported
                # missing.
                run.fail(f'job {i} failed: {e!r}')
                break
            run.deliver(i, value)
        run.wall_s = (now_ns() - start) / 1e9

    asyncio.run(main())


def bench_executor(run, timeout):
    async def main():
        loop = asyncio.get_running_loop()
        with concurrent.futures.ThreadPoolExecutor() as executor:
            start = now_ns()
            for i in range(run.total):
                run.t_submit = now_ns()
                value = await asyncio.wait_for(
                    loop.run_in_executor(executor, run.job, i), timeout)
                run.deliver(i, value)
            run.wall_s = (now_ns() - start) / 1e9

    asyncio.run(main())


def run_one(mechanism, n, warmup, pin, timeout):
    run = Run(mechanism, n, warmup, pin)
    if mechanism == 'py-ag-wait':
        bench_ag(run, timeout, done_on=False)
    elif mechanism == 'py-ag-done-on':
        bench_ag(run, timeout, done_on=True)
    elif mechanism == 'py-ag-await':
        bench_ag_await(run, timeout)
    elif mechanism == 'py-executor':
        bench_executor(run, timeout)
    elif mechanism == 'py-thread-idle':
        bench_thread_idle(run, timeout)
    elif mechanism == 'py-worker-idle':
        bench_worker_idle(run, timeout)
    else:
        raise SystemExit(f'bench.py: unknown mechanism {mechanism}')
    return run.result()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--mechanism', '-m', choices=MECHANISMS)
    parser.add_argument('--n', '-n', type=int, default=20000)
    parser.add_argument('--warmup', '-w', type=int, default=None)
    parser.add_argument('--pin', '-p', choices=['none', 'same', 'split'],
                        default='none')
    parser.add_argument('--timeout', type=int, default=300)
    parser.add_argument('--smoke', action='store_true',
                        help='every mechanism with a tiny N')
    args = parser.parse_args()

    # Before any thread exists, so that every thread inherits it.
    if args.pin != 'none':
        pin_self(0)

    if args.smoke:
        status = 0
        for mechanism in MECHANISMS:
            for pin in ('none', 'split'):
                out = run_one(mechanism, 50, 10, pin, 30)
                print(('ok ' if out['ok'] else 'FAILED ')
                      + f'py-roundtrip/{mechanism}/{pin}')
                status |= not out['ok']
        return status

    if args.mechanism is None:
        parser.error('give --mechanism (or --smoke)')
    warmup = args.warmup if args.warmup is not None \
        else min(max(args.n // 20, 10), 1000)
    out = run_one(args.mechanism, args.n, warmup, args.pin, args.timeout)
    print(json.dumps(out), flush=True)
    return 0 if out['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
