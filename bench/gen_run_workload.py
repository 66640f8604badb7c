#!/usr/bin/env python3
"""Generates the `ops run` benchmark workload and its peer equivalents.

Usage: gen_run_workload.py DIR PORT

Writes, under DIR:
  one.rb.ops           a one-step runbook (start-up)
  noop1000.rb.ops      1,000 no-op steps (`wait 0s`), for per-step overhead
  parallel50.rb.ops    50 GETs of /slow (100 ms) inside `parallel`
  plan50.rb.ops        a 50-step runbook of probes, waits, commands and notifications
  hurl/one.hurl, hurl/p00..p49.hurl   the same requests for hurl (`--jobs 50` runs files)
  just/one.just        a one-recipe justfile
  ansible/one.yml      a one-task playbook (debug)
  ansible/plan50.yml   50 tasks equivalent to plan50 (for `--check`)
"""
import os
import sys

out, port = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
os.makedirs(os.path.join(out, "hurl"), exist_ok=True)
os.makedirs(os.path.join(out, "just"), exist_ok=True)
os.makedirs(os.path.join(out, "ansible"), exist_ok=True)

HEAD = 'runbook "{id}" {{\n  title = "{title}"\n  owner = "bench"\n}}\n\n'


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


write("one.rb.ops", HEAD.format(id="one", title="one step") + 'notify stdout "hello"\n')
write("noop1.rb.ops", HEAD.format(id="noop1", title="one no-op step") + "wait 0s\n")
write("noop1000.rb.ops", HEAD.format(id="noop", title="1000 no-op steps") + "wait 0s\n" * 1000)

body = "".join(
    f'  probe http "{base}/slow?n={i}" {{\n    expect status == 200\n  }}\n' for i in range(50)
)
write("parallel50.rb.ops", HEAD.format(id="parallel50", title="50 slow probes") + f"parallel {{\n{body}}}\n")

steps = []
for i in range(50):
    kind = i % 5
    if kind == 0:
        steps.append(f'  probe http "{base}/fast?n={i}" as p{i} {{\n    expect status == 200\n    expect json ".status" == "ok"\n    retry 3 every 1s backoff exponential\n    timeout 2s\n  }}\n')
    elif kind == 1:
        steps.append(f"  wait 1s\n")
    elif kind == 2:
        steps.append(f'  exec ["echo", "step {i}"] as e{i} {{\n    timeout 10s\n  }}\n')
    elif kind == 3:
        steps.append(f'  notify stdout "step {i}: ${{p{i - 3}.latency}}"\n')
    else:
        steps.append(f'  probe exec ["true"] {{\n    expect exit == 0\n  }}\n')
stages = "".join(
    f'stage "s{n}" {{\n' + "".join(steps[n * 10:(n + 1) * 10]) + "}\n\n" for n in range(5)
)
write("plan50.rb.ops", HEAD.format(id="plan50", title="50 steps") + stages + 'on failure {\n  notify stdout "failed at ${failure.step}"\n}\n')

seq = "".join(
    f'probe http "{base}/fast?n={i}" {{\n  expect status == 200\n  expect json ".status" == "ok"\n}}\n'
    for i in range(50)
)
write("sequential50.rb.ops", HEAD.format(id="sequential50", title="50 sequential probes") + seq)
write("bigbody.rb.ops", HEAD.format(id="bigbody", title="a 100 MB body") + f'probe http "{base}/big" {{\n  max_body = 1MiB\n  expect status == 200\n}}\n')
write("hurl/sequential50.hurl", "".join(
    f'GET {base}/fast?n={i}\nHTTP 200\n[Asserts]\njsonpath "$.status" == "ok"\n\n' for i in range(50)
))
write("ansible/sequential50.yml", "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n" + "".join(
    f"    - uri:\n        url: {base}/fast?n={i}\n        return_content: true\n      register: r{i}\n      failed_when: r{i}.json.status != 'ok'\n" for i in range(50)
))
write("hurl/one.hurl", f"GET {base}/fast\nHTTP 200\n")
for i in range(50):
    write(f"hurl/p{i:02}.hurl", f"GET {base}/slow?n={i}\nHTTP 200\n")
write("just/one.just", "hello:\n    @echo hello\n")
write("ansible/one.yml", "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n    - debug:\n        msg: hello\n")
tasks = []
for i in range(50):
    kind = i % 5
    if kind == 0:
        tasks.append(f"    - uri:\n        url: {base}/fast?n={i}\n        status_code: 200\n      register: p{i}\n      retries: 3\n      delay: 1\n      until: p{i}.status == 200\n")
    elif kind == 1:
        # `pause` would really wait in --check mode; a plan does not wait.
        tasks.append("    - debug:\n        msg: would pause 1s\n")
    elif kind == 2:
        tasks.append(f"    - command: echo step {i}\n")
    elif kind == 3:
        tasks.append(f"    - debug:\n        msg: step {i}\n")
    else:
        tasks.append("    - command: 'true'\n")
write("ansible/plan50.yml", "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n" + "".join(tasks))
