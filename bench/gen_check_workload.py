#!/usr/bin/env python3
"""Generates the `ops check` benchmark workload and equivalent peer inputs.

For N runbooks of 30 steps each it writes, under OUT/:
  ops/      N `.rb.ops` runbooks (metadata, params, 3 stages of 10 steps: HTTP probes with
            expectations and retries, TCP probes, waits, notifications)
  ansible/  N playbooks with the same 30 tasks (uri, wait_for, pause, debug)
  hurl/     N Hurl files with 30 requests and asserts
  just/     N justfiles with 30 recipes
Usage: gen_check_workload.py OUT N
"""
import os
import sys


def runbook(i):
    lines = [
        f'runbook "bench-{i:04d}" {{',
        f'  title      = "Benchmark runbook {i}"',
        '  owner      = "bench-team"',
        '  category   = "benchmark"',
        '  complexity = beginner',
        '  budget     = 30m',
        '}',
        '',
        'param gateway: url = "http://127.0.0.1:8080"',
        'param ui: url      = "http://127.0.0.1:3000"',
        'secret OPS_WEBHOOK',
        '',
    ]
    n = 0
    for stage in range(3):
        lines.append(f'stage "stage {stage}" {{')
        for k in range(10):
            n += 1
            kind = n % 5
            if kind == 0:
                lines += [
                    f'  probe http "${{gateway}}/service-{n}/healthz" as s{n} {{',
                    '    expect status == 200',
                    '    expect json ".status" == "ok"',
                    '    retry 3 every 2s backoff exponential',
                    '    timeout 2s',
                    '  }',
                ]
            elif kind == 1:
                lines += [
                    f'  probe http "${{ui}}/page-{n}" as s{n} {{',
                    '    expect status in [200, 204]',
                    '    expect header "content-type" contains "text/html"',
                    '  }',
                ]
            elif kind == 2:
                lines.append(f'  probe tcp "127.0.0.1:{5000 + n}" as s{n}')
            elif kind == 3:
                lines.append(f'  wait {n % 7 + 1}s')
            else:
                lines.append(f'  notify stdout "step {n}: previous answered in ${{s{n - 1}.latency}}"' if (n - 1) % 5 in (0, 1, 2) else f'  notify stdout "step {n} done"')
        lines.append('}')
        lines.append('')
    lines += ['on failure {', '  notify slack OPS_WEBHOOK { text = "failed at ${failure.step}: ${failure.message}" }', '}', '']
    return '\n'.join(lines)


def playbook(i):
    out = [f'- name: Benchmark playbook {i}', '  hosts: localhost', '  gather_facts: false',
           '  vars:', '    gateway: "http://127.0.0.1:8080"', '    ui: "http://127.0.0.1:3000"', '  tasks:']
    for n in range(1, 31):
        kind = n % 5
        if kind == 0:
            out += [f'    - name: probe service {n}', '      ansible.builtin.uri:',
                    f'        url: "{{{{ gateway }}}}/service-{n}/healthz"', '        status_code: 200',
                    '        timeout: 2', f'      register: s{n}', '      retries: 3', '      delay: 2',
                    f'      until: s{n}.json.status == "ok"']
        elif kind == 1:
            out += [f'    - name: probe page {n}', '      ansible.builtin.uri:', f'        url: "{{{{ ui }}}}/page-{n}"',
                    '        status_code: [200, 204]', f'      register: s{n}']
        elif kind == 2:
            out += [f'    - name: tcp {n}', '      ansible.builtin.wait_for:', '        host: 127.0.0.1',
                    f'        port: {5000 + n}', '        timeout: 5']
        elif kind == 3:
            out += [f'    - name: wait {n}', '      ansible.builtin.pause:', f'        seconds: {n % 7 + 1}']
        else:
            out += [f'    - name: notify {n}', '      ansible.builtin.debug:', f'        msg: "step {n} done"']
    return '\n'.join(out) + '\n'


def hurl(i):
    out = []
    for n in range(1, 31):
        out += [f'GET http://127.0.0.1:8080/service-{n}/healthz', 'HTTP 200', '[Asserts]',
                'jsonpath "$.status" == "ok"', 'duration < 2000', '']
    return '\n'.join(out)


def justfile(i):
    out = []
    for n in range(1, 31):
        out += [f'step-{n}:', f'    curl -fsS http://127.0.0.1:8080/service-{n}/healthz', '']
    return '\n'.join(out)


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    for sub in ('ops', 'ansible', 'hurl', 'just'):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for i in range(count):
        for sub, ext, make in (('ops', '.rb.ops', runbook), ('ansible', '.yml', playbook),
                               ('hurl', '.hurl', hurl), ('just', '.just', justfile)):
            with open(os.path.join(out, sub, f'b{i:04d}{ext}'), 'w') as f:
                f.write(make(i))


if __name__ == '__main__':
    main()
