#!/usr/bin/python3
"""Every setting of every binary is documented: each flag and environment
variable that `<binary> --help` prints must appear in docs/operations.md.

Usage: check_settings_documented.py <source dir> <bin dir> <binary>...
"""
import pathlib
import re
import subprocess
import sys


def settings(binary):
    text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    for m in re.finditer(r"^  (--[a-z0-9-]+) <[^>]+>(?:\s+\[env ([A-Z0-9_]+)\])?", text, re.M):
        yield m.group(1), m.group(2)


def main(root, bin_dir, binaries):
    doc = (pathlib.Path(root) / "docs" / "operations.md").read_text()
    problems = []
    count = 0
    for name in binaries:
        for flag, env in settings(str(pathlib.Path(bin_dir) / name)):
            count += 1
            if f"`{flag}`" not in doc:
                problems.append(f"{name}: {flag} is not in docs/operations.md")
            if env and f"`{env}`" not in doc:
                problems.append(f"{name}: {env} ({flag}) is not in docs/operations.md")
    for p in problems:
        print(p)
    print(f"{count} settings of {len(binaries)} binaries, {len(problems)} undocumented")
    return 1 if problems or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
