#!/usr/bin/env python3
"""Fails unless bindings-c/README.md shows the files the suite builds, byte for byte: a ```c block equal
to examples/quickstart.c, a ```cmake block equal to examples/cmake/CMakeLists.txt and a ```cpp block
equal to examples/cmake/main.cpp. (Its first ```sh block, the install commands, is run by
tests/test_install.sh.) Usage: check_readme.py README.md"""
import os
import re
import sys

readme_path = sys.argv[1]
readme = open(readme_path, encoding="utf-8").read()
here = os.path.dirname(os.path.abspath(readme_path))
failed = False
for lang, example in [("c", "examples/quickstart.c"), ("cmake", "examples/cmake/CMakeLists.txt"),
                      ("cpp", "examples/cmake/main.cpp")]:
    text = open(os.path.join(here, example), encoding="utf-8").read()
    if text in re.findall(r"```" + lang + r"\n(.*?)```", readme, re.S):
        print(f"{readme_path}: the ```{lang} block is {example}")
    else:
        print(f"{readme_path}: no ```{lang} block equal to {example}; paste the file into the README", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
