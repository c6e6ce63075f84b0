#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Reads the JSON lines of one bench/run (one line per program run, each with
# the round it belongs to), computes medians over the rounds and ratios to
# the floor of the same round, prints the table and the targets, and writes
# the raw figures and the summary as one JSON file.
#
#   report.py RAW.jsonl MACHINE.json OUT.json [OUT.txt]

import json
import statistics
import sys

C_MECHANISMS = ['floor', 'floor-object', 'floor-pending', 'invoke', 'gtask',
                'threadpool', 'ag-to-thread', 'ag-to-thread-wait',
                'ag-call-soon']
PY_MECHANISMS = ['py-ag-wait', 'py-ag-done-on', 'py-ag-await',
                 'py-executor', 'py-thread-idle', 'py-worker-idle']
AG = 'ag-to-thread'      # the mechanism the targets are about
PY_AG = 'py-ag-wait'

# (key in the summary, scenario, pin, figure, unit)
CELLS = [
    ('rt_same', 'roundtrip', 'same', 'median_us'),
    ('rt_same_p99', 'roundtrip', 'same', 'p99_us'),
    ('rt_split', 'roundtrip', 'split', 'median_us'),
    ('rt_split_p99', 'roundtrip', 'split', 'p99_us'),
    ('tput', 'throughput', 'none', 'ns_per_job'),
    ('tput_jobs_s', 'throughput', 'none', 'jobs_per_s'),
    ('tput_threads', 'throughput', 'none', 'threads'),
    ('mem', 'memory', 'none', 'bytes_per_job'),
    ('pending_life', 'throughput', 'none', 'pending_life_ns'),
    ('pending_bytes', 'memory', 'none', 'pending_bytes'),
    ('host_max', 'hostloop', 'split', 'block_cpu_max_us'),
    ('host_p99', 'hostloop', 'split', 'block_cpu_p99_us'),
    ('host_wall_max', 'hostloop', 'split', 'block_max_us'),
    ('host_wall_p99', 'hostloop', 'split', 'block_p99_us'),
    ('host_sleep_max', 'hostloop', 'split', 'sleep_gap_max_us'),
    ('idle_max', 'hostloop-idle', 'split', 'idle_cpu_max_us'),
    ('idle_p99', 'hostloop-idle', 'split', 'idle_cpu_p99_us'),
    ('idle_wall_max', 'hostloop-idle', 'split', 'idle_max_us'),
    ('idle_wall_p99', 'hostloop-idle', 'split', 'idle_p99_us'),
    ('idle_sleep_max', 'hostloop-idle', 'split', 'sleep_gap_max_us'),
]
# Cells whose ratio to the floor of the same round is shown.
RATIO_CELLS = {'rt_same', 'rt_split', 'tput', 'mem'}


def scenario_of(run):
    return 'roundtrip' if run['scenario'] == 'py-roundtrip' \
        else run['scenario']


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def summarize(runs):
    """{mechanism: {cell: {'median', 'max', 'ratio', 'rounds', 'failed'}}}"""
    by = {}
    for run in runs:
        key = (run['mechanism'], scenario_of(run), run.get('pin', 'none'))
        by.setdefault(key, []).append(run)

    summary = {}
    for mech in C_MECHANISMS + PY_MECHANISMS:
        row = {}
        for cell, scenario, pin, figure in CELLS:
            group = by.get((mech, scenario, pin), [])
            if not group:
                continue
            good = [r for r in group if r.get('ok') and figure in r]
            if not good and all(r.get('ok') for r in group):
                continue  # a figure these runs do not give
            entry = {
                'rounds': len(group),
                'failed': sum(1 for r in group if not r.get('ok')),
                'errors': sorted({r.get('error', '') for r in group
                                  if not r.get('ok')} - {''}),
            }
            if good:
                values = [r[figure] for r in good]
                entry['median'] = statistics.median(values)
                entry['min'] = min(values)
                entry['max'] = max(values)
                entry['values'] = values
            if cell in RATIO_CELLS:
                ratios = []
                for r in good:
                    floors = [f for f in by.get(('floor', scenario, pin), [])
                              if f.get('round') == r.get('round')
                              and f.get('ok') and f.get(figure)]
                    if floors:
                        ratios.append(r[figure] / floors[0][figure])
                if ratios:
                    entry['ratio'] = statistics.median(ratios)
            row[cell] = entry
        summary[mech] = row
    return summary


def fmt(value, digits=1):
    if value is None:
        return ''
    if value >= 10000:
        return f'{value:,.0f}'
    if value >= 100:
        return f'{value:.0f}'
    return f'{value:.{digits}f}'


def cell_text(row, cell, p99=None, digits=1):
    entry = row.get(cell)
    if entry is None:
        return ''
    if 'median' not in entry:
        return f'FAIL {entry["failed"]}/{entry["rounds"]}'
    text = fmt(entry['median'], digits)
    if p99 is not None and p99 in row and 'median' in row[p99]:
        text += f' ({fmt(row[p99]["median"], digits)})'
    if entry['failed']:
        text += f' FAIL {entry["failed"]}/{entry["rounds"]}'
    return text


def ratio_text(row, cell):
    entry = row.get(cell)
    if entry is None or 'ratio' not in entry:
        return ''
    return f'{entry["ratio"]:.2f}×'


def get(summary, mech, cell, what='median'):
    return summary.get(mech, {}).get(cell, {}).get(what)


def all_ok(summary, mech, cells):
    row = summary.get(mech, {})
    return all(cell in row and row[cell]['failed'] == 0 and
               'median' in row[cell] for cell in cells)


def targets(summary):
    """[(mark key, text, holds)]"""
    out = []

    ratio = get(summary, AG, 'rt_same', 'ratio')
    med = get(summary, AG, 'rt_same')
    pool = get(summary, 'threadpool', 'rt_same')
    gtask = get(summary, 'gtask', 'rt_same')
    holds = (all_ok(summary, AG, ['rt_same']) and None not in
             (ratio, med, pool, gtask) and ratio <= 1.5 and med < pool
             and med < gtask)
    out.append(('rt_same',
                f'roundtrip on one CPU ≤ 1.5× floor and below GThreadPool '
                f'and GTask: {AG} {fmt(med)} µs = {ratio or 0:.2f}× floor; '
                f'threadpool {fmt(pool)} µs, gtask {fmt(gtask)} µs',
                holds))

    ratio = get(summary, AG, 'rt_split', 'ratio')
    med = get(summary, AG, 'rt_split')
    holds = (all_ok(summary, AG, ['rt_split']) and ratio is not None
             and ratio <= 1.10)
    out.append(('rt_split',
                f'roundtrip across CPUs ≤ 1.10× floor: {AG} {fmt(med)} µs '
                f'= {ratio or 0:.2f}× floor', holds))

    ns = get(summary, AG, 'tput')
    pool = get(summary, 'threadpool', 'tput')
    holds = (all_ok(summary, AG, ['tput']) and None not in (ns, pool)
             and ns <= 0.5 * pool)
    life = get(summary, AG, 'pending_life')
    bound = get(summary, 'floor-object', 'tput')
    carried = get(summary, 'floor-pending', 'tput')
    out.append(('tput',
                f'throughput ≤ 0.5× GThreadPool ns/job: {AG} {fmt(ns)} ns '
                f'vs threadpool {fmt(pool)} ns '
                f'({(ns or 0) / (pool or 1):.2f}×); a pending\'s own life '
                f'on the main thread (new, set, unref; no thread, no '
                f'callback): {fmt(life)} ns '
                f'({(life or 0) / (pool or 1):.2f}× threadpool); the floor\'s '
                f'queue with a bare GObject per job (floor-object, no main '
                f'loop): {fmt(bound)} ns '
                f'({(bound or 0) / (pool or 1):.2f}× threadpool), with a '
                f'pending per job (floor-pending): {fmt(carried)} ns '
                f'({(carried or 0) / (pool or 1):.2f}× threadpool)', holds))

    mem = get(summary, AG, 'mem')
    size = get(summary, AG, 'pending_bytes')
    holds = all_ok(summary, AG, ['mem']) and mem is not None and mem <= 160
    bound = get(summary, 'floor-object', 'mem')
    carried = get(summary, 'floor-pending', 'mem')
    out.append(('mem', f'≤ 160 bytes per in-flight job: {AG} {fmt(mem)} '
                f'bytes, of which the pending\'s instance is '
                f'{fmt(size, 0)}; floor-object {fmt(bound)} bytes, '
                f'floor-pending {fmt(carried)} bytes', holds))

    # "Never" within a run: each round's maximum; over rounds, the median
    # (the method of every other figure), with the worst round shown too.
    cells = ['host_max', 'idle_max', 'host_sleep_max', 'idle_sleep_max']
    typical = [get(summary, AG, c) for c in cells]
    worst = [get(summary, AG, c, 'max') for c in cells]
    wall = [get(summary, AG, c) for c in ('host_wall_max', 'idle_wall_max')]
    holds = (all_ok(summary, AG, cells) and None not in typical
             and max(typical) <= 2000)
    out.append(('host_max',
                f'host loop never blocked > 2 ms by result delivery: {AG}, '
                f'median over rounds of the longest: CPU time between two '
                f'polls {fmt(typical[0])} µs, between two idle dispatches '
                f'{fmt(typical[1])} µs; gap in which the loop slept inside '
                f'delivery (waiting for a lock) {fmt(typical[2])} µs and '
                f'{fmt(typical[3])} µs. Worst round: {fmt(worst[0])}, '
                f'{fmt(worst[1])}, {fmt(worst[2])}, {fmt(worst[3])} µs. '
                f'Wall clock (adds preemption and VM stalls): '
                f'{fmt(wall[0])} µs and {fmt(wall[1])} µs',
                holds))

    for pin, label, cell in (('same', 'one CPU', 'rt_same'),
                             ('split', 'across CPUs', 'rt_split')):
        ag = get(summary, PY_AG, cell)
        ex = get(summary, 'py-executor', cell)
        idle = get(summary, 'py-thread-idle', cell)
        holds = (all_ok(summary, PY_AG, [cell]) and None not in (ag, ex, idle)
                 and ag <= ex and ag <= idle)
        out.append(('py_' + cell,
                    f'Python to_thread roundtrip ({label}) no slower than '
                    f'run_in_executor and thread+idle_add: {fmt(ag)} µs vs '
                    f'{fmt(ex)} µs and {fmt(idle)} µs', holds))
    return out


def render(summary, machine, rounds):
    marks = {key: holds for key, _, holds in targets(summary)}

    def mark(mech, key):
        if (mech == AG and key in ('rt_same', 'rt_split', 'tput', 'mem',
                                   'host_max')) or \
           (mech == PY_AG and key in ('py_rt_same', 'py_rt_split')):
            return ' ✓' if marks.get(key) else ' ✗'
        return ''

    header = ['mechanism',
              'rt 1 CPU µs med (p99)', '×floor',
              'rt 2 CPUs µs med (p99)', '×floor',
              'ns/job', 'jobs/s', 'threads', '×floor',
              'B/job', '×floor',
              'loop block µs: CPU', 'wall', 'slept',
              'idle gap µs: CPU', 'wall', 'slept']
    rows = []
    for mech in C_MECHANISMS + PY_MECHANISMS:
        row = summary.get(mech)
        if not row:
            continue
        rows.append([
            mech,
            cell_text(row, 'rt_same', 'rt_same_p99'),
            ratio_text(row, 'rt_same') + mark(mech, 'rt_same')
            + mark(mech, 'py_rt_same'),
            cell_text(row, 'rt_split', 'rt_split_p99'),
            ratio_text(row, 'rt_split') + mark(mech, 'rt_split')
            + mark(mech, 'py_rt_split'),
            cell_text(row, 'tput'),
            cell_text(row, 'tput_jobs_s'),
            cell_text(row, 'tput_threads', digits=0),
            ratio_text(row, 'tput') + mark(mech, 'tput'),
            cell_text(row, 'mem'),
            ratio_text(row, 'mem') + mark(mech, 'mem'),
            cell_text(row, 'host_max', 'host_p99') + mark(mech, 'host_max'),
            cell_text(row, 'host_wall_max', 'host_wall_p99'),
            cell_text(row, 'host_sleep_max'),
            cell_text(row, 'idle_max', 'idle_p99') + mark(mech, 'host_max'),
            cell_text(row, 'idle_wall_max', 'idle_wall_p99'),
            cell_text(row, 'idle_sleep_max'),
        ])

    widths = [max(len(r[i]) for r in rows + [header])
              for i in range(len(header))]
    lines = []
    sep = '  '
    lines.append(sep.join(h.ljust(w) if i == 0 else h.rjust(w)
                          for i, (h, w) in enumerate(zip(header, widths))))
    lines.append(sep.join('-' * w for w in widths))
    for r in rows:
        lines.append(sep.join(c.ljust(w) if i == 0 else c.rjust(w)
                              for i, (c, w) in enumerate(zip(r, widths)))
                     .rstrip())

    lines.append('')
    lines.append(f'Medians over {rounds} interleaved rounds; ×floor is the '
                 'median over rounds of the ratio to the floor of the same '
                 'round (roundtrip: GMutex+GCond; throughput, memory: '
                 'GAsyncQueue pair). floor-object: that queue pair carrying '
                 'one GObject per job (one read-only property, its result a '
                 'GValue), made and released by the main thread: the least '
                 'a result object adds; floor-pending: the same with an '
                 'AgPending per job (ag_pending_new, ag_pending_set_int in '
                 'the worker, ag_pending_get_int), the least a pending per '
                 'job costs whatever carries it. rt 1 CPU: whole process on '
                 'CPU 0 (taskset -c 0); rt 2 CPUs: main thread on CPU 0, '
                 'workers on CPU 1. Loop block: longest poll-to-poll gap of '
                 'the main loop (main thread alone on CPU 0) while a producer '
                 'thread '
                 'submits 100k jobs whose results come back to it; idle gap: '
                 'the same run with a G_PRIORITY_DEFAULT idle source that '
                 'records the gaps between its dispatches. "CPU" counts the '
                 'main thread\'s CPU time in the gap (the work the loop did), '
                 '"wall" the clock (adds preemption and VM noise), "slept" '
                 'the longest gap in which the main thread slept inside '
                 'dispatch (waited for a lock); each is the median over '
                 'rounds of each round\'s max, and (p99). threads: worker '
                 'threads that ran the 200k throughput jobs. '
                 'py-* rows: the same roundtrip from Python, ratio to the C '
                 'floor.')
    lines.append('')
    lines.append('Targets (async-gobject: ' + AG + ', Python: ' + PY_AG
                 + '):')
    for _, text, holds in targets(summary):
        lines.append(f'  {"✓" if holds else "✗"} {text}')

    failures = []
    for mech, row in summary.items():
        for cell, entry in row.items():
            if entry['failed']:
                failures.append(f'  {mech} {cell}: {entry["failed"]} of '
                                f'{entry["rounds"]} runs failed: '
                                + '; '.join(entry['errors'])[:300])
    if failures:
        lines.append('')
        lines.append('FAILED RUNS (wrong, missing or duplicate results, '
                     'crashes, time-outs):')
        lines.extend(sorted(set(failures)))

    lines.append('')
    lines.append('Machine: ' + '; '.join(f'{k}: {v}' for k, v in
                                         machine.items()))
    return '\n'.join(lines)


def main():
    raw, machine_path, out_path = sys.argv[1:4]
    txt_path = sys.argv[4] if len(sys.argv) > 4 else None
    runs = load(raw)
    with open(machine_path) as f:
        machine = json.load(f)
    rounds = max((r.get('round', 1) for r in runs), default=0)
    summary = summarize(runs)
    text = render(summary, machine, rounds)
    print(text)
    with open(out_path, 'w') as f:
        json.dump({
            'machine': machine,
            'rounds': rounds,
            'summary': summary,
            'targets': [{'target': key, 'text': t, 'holds': bool(h)}
                        for key, t, h in targets(summary)],
            'runs': runs,
        }, f, indent=1, ensure_ascii=False)
        f.write('\n')
    if txt_path:
        with open(txt_path, 'w') as f:
            f.write(text + '\n')
    failed = any(entry['failed'] for row in summary.values()
                 for entry in row.values())
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
