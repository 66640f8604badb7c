#!/usr/bin/env python3
"""Generates the scaling benchmark's runbooks: one per shape and size.

Usage: gen_scale_workload.py DIR PORT SIZE...

Writes DIR/SHAPE-SIZE.rb.ops for every shape below, each with SIZE steps in the plan
(a `call` expands to the called runbook's one step), plus DIR/child.rb.ops for `calls`.
Every step is `probe tcp addr` (a connect to the bench's listener; `addr` a parameter, so
every step looks a name up), except
in `parallel`, whose SIZE branches are `wait 0s` so that the run does not open SIZE
sockets at once:

  unnamed     SIZE probes
  waits       SIZE `wait d` (d a parameter, 0s): the same flow with no network, the
              control for the probes' run times (tens of thousands of connects leave as
              many TIME_WAIT sockets, and the kernel's search for a free local port
              grows with them)
  named       SIZE probes, each `as pN`
  referenced  SIZE/2 named probes, each followed by a `notify stdout` of its latency
  parallel    one unlimited `parallel { }` of SIZE `wait 0s`
  loops       `for i in items`, items a list literal of SIZE integers
  calls       SIZE `call "child.rb.ops" { port = PORT }`, the child one probe
  nesting     stages of 10 steps, each in `stage { parallel limit 2 { stage { ... } } }`
"""
import os
import sys

out, port = sys.argv[1], int(sys.argv[2])
sizes = [int(s) for s in sys.argv[3:]]
os.makedirs(out, exist_ok=True)
addr = "addr"
probe = f"probe tcp {addr}\n"


def head(name, decl=True):
    text = f'runbook "{name}" {{\n  title = "{name}"\n  owner = "bench"\n}}\n\n'
    if decl:
        text += f'param addr: string = "127.0.0.1:{port}"\n\n'
    return text


def unnamed(n):
    return probe * n


def waits(n):
    return "param d: duration = 0s\n\n" + "wait d\n" * n


def named(n):
    return "".join(f"probe tcp {addr} as p{i}\n" for i in range(n))


def referenced(n):
    return "".join(
        f'probe tcp {addr} as p{i}\nnotify stdout "{i}: ${{p{i}.latency}}"\n' for i in range(n // 2)
    )


def parallel(n):
    return "parallel {\n" + "  wait 0s\n" * n + "}\n"


def loops(n):
    items = ", ".join(str(i) for i in range(n))
    return f"let items = [{items}]\n\nfor i in items {{\n  {probe}}}\n"


def calls(n):
    return "".join(f'call "child.rb.ops" {{ port = {port} }}\n' for _ in range(n))


def nesting(n):
    out = []
    for g in range(n // 10):
        body = (" " * 6 + probe) * 10
        out.append(
            f'stage "s{g}" {{\n  parallel limit 2 {{\n    stage "i{g}" {{\n{body}    }}\n  }}\n}}\n'
        )
    return "".join(out)


SHAPES = {
    "unnamed": unnamed,
    "waits": waits,
    "named": named,
    "referenced": referenced,
    "parallel": parallel,
    "loops": loops,
    "calls": calls,
    "nesting": nesting,
}

with open(os.path.join(out, "child.rb.ops"), "w") as f:
    f.write(head("child", decl=False) + "param port: int\n\n" + 'probe tcp "127.0.0.1:${port}"\n')

for shape, make in SHAPES.items():
    for n in sizes:
        with open(os.path.join(out, f"{shape}-{n}.rb.ops"), "w") as f:
            f.write(head(f"{shape}-{n}", decl=shape not in ("waits", "parallel", "calls")) + make(n))
