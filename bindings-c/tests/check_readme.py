#!/usr/bin/env python3
"""Fails unless README.md's ```c block is examples/quickstart.c, byte for byte (the compiled and run
quickstart is the one the README shows). Usage: check_readme.py README.md examples/quickstart.c"""
import re
import sys

readme, example = open(sys.argv[1], encoding="utf-8").read(), open(sys.argv[2], encoding="utf-8").read()
blocks = re.findall(r"```c\n(.*?)```", readme, re.S)
if example not in blocks:
    sys.exit(f"{sys.argv[1]}: no ```c block equal to {sys.argv[2]}; paste the example into the README")
print(f"{sys.argv[1]}: the C quickstart is {sys.argv[2]}")
