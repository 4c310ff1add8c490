"""Replaces (or appends) one generated section of a Markdown file, between
<!-- BEGIN name --> and <!-- END name --> markers, with standard input."""
import sys

path, name = sys.argv[1], sys.argv[2]
begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
body = sys.stdin.read().rstrip("\n")
try:
    text = open(path, encoding="utf-8").read()
except FileNotFoundError:
    text = ""
block = f"{begin}\n{body}\n{end}"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + block + tail
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w", encoding="utf-8").write(text)
