#!/usr/bin/env python3
"""The command line of `rowcast`: every command listed with its summary, `--help` per command,
and exit status 2 naming what is wrong for an unknown command, an unknown option or an option
without its argument. Needs no server: only the rowcast binary.
"""
import argparse
import os
import subprocess
import sys
import tempfile

COMMANDS = ["replay", "run", "snapshot", "stats", "config", "decode", "tail", "broker"]

# an option each command takes that needs an argument, given without it
NEEDS_ARGUMENT = {
    "replay": "--config", "run": "-o", "snapshot": "--config", "stats": "--config", "tail": "--topic", "broker": "--partitions",
}

failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
        if detail:
            print("     " + detail.replace("\n", "\n     "))


def run(rowcast, *args):
    p = subprocess.run([rowcast] + list(args), capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def lists_commands(text):
    """The commands a usage text lists, each at the start of an indented line with its summary."""
    lines = text.splitlines()
    found = []
    for cmd in COMMANDS:
        for i, line in enumerate(lines):
            if line.startswith("  " + cmd + " ") or line == "  " + cmd:
                rest = line[len(cmd) + 2:].strip()
                nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
                if rest or nxt:
                    found.append(cmd)
                break
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    a = ap.parse_args()
    rc = a.rowcast

    for args, want_code, stream in ((["--help"], 0, 1), (["help"], 0, 1), (["-h"], 0, 1), ([], 2, 2)):
        code, out, err = run(rc, *args)
        text = out if stream == 1 else err
        label = "rowcast " + " ".join(args) if args else "rowcast (no arguments)"
        check(code == want_code, f"{label} exits {want_code}", f"exit {code}")
        got = lists_commands(text)
        check(got == COMMANDS, f"{label} lists all {len(COMMANDS)} commands with a summary",
              f"listed {got}; text:\n{text}")

    for cmd in COMMANDS:
        code, out, err = run(rc, cmd, "--help")
        if cmd == "config":  # the key reference, which docs/CONFIGURATION.md mirrors
            ok = code == 0 and "kafka.*" in out and "state.dir" in out
        else:
            ok = code == 0 and out.startswith(f"usage: rowcast {cmd}")
        check(ok, f"rowcast {cmd} --help exits 0 and prints its usage on stdout",
              f"exit {code}; stdout {out[:300]!r}; stderr {err[:300]!r}")

        code, out, err = run(rc, cmd, "--no-such-option")
        check(code == 2 and "--no-such-option" in err and "unknown option" in err,
              f"rowcast {cmd} --no-such-option exits 2 and names it", f"exit {code}; stderr {err[:300]!r}")

        if cmd in NEEDS_ARGUMENT:
            opt = NEEDS_ARGUMENT[cmd]
            code, out, err = run(rc, cmd, opt)
            check(code == 2 and f"'{opt}'" in err and "argument" in err,
                  f"rowcast {cmd} {opt} (no argument) exits 2 and names it", f"exit {code}; stderr {err[:300]!r}")

    code, out, err = run(rc, "decode", "-x", "file")
    check(code == 2 and "'-x'" in err, "rowcast decode -x exits 2 and names it", f"exit {code}; stderr {err!r}")

    # --config FILE, --config=FILE and -o as always: -o wins over the file whatever the order
    with tempfile.TemporaryDirectory() as tmp:
        ini = os.path.join(tmp, "rowcast.ini")
        with open(ini, "w") as f:
            f.write("[state]\ndir = %s/from-file\n" % tmp)
        for args, want in ((["--config", ini], "from-file"), (["--config=" + ini], "from-file"),
                           (["-o", f"state.dir={tmp}/from-o", "--config", ini], "from-o")):
            code, out, err = run(rc, "stats", *args)
            check(code == 2 and f"{tmp}/{want}/stats.json" in err,
                  f"rowcast stats {' '.join(a.replace(tmp, 'TMP') for a in args)} reads state.dir {want}",
                  f"exit {code}; stderr {err[:300]!r}")

    code, out, err = run(rc, "no-such-command")
    check(code == 2 and "no-such-command" in err, "an unknown command exits 2 and names it",
          f"exit {code}; stderr {err[:300]!r}")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
