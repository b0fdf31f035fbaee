"""Writes the seed corpus (valid frames and batches) into fuzz/corpus/<target>/. Run once; the corpus is
committed, and every crash found becomes a file in fuzz/regressions/<target>/ (replayed by CI)."""
import hashlib
import json
import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Optional: a Markdown protocol description whose "## Appendix A" holds hex frames (PROTOCOL_REFERENCE=path).
spec = Path(os.environ.get("PROTOCOL_REFERENCE", "/nonexistent"))
frames = []
if spec.exists():
    text = spec.read_text()
    appendix = text[text.index("## Appendix A"):]
    for block in re.findall(r"```\n(.*?)```", appendix, re.S):
        hexes = "".join(block.split())
        try:
            frames.append(bytes.fromhex(hexes))
        except ValueError:
            pass
batch = json.loads((ROOT / "tests/vectors/batch.json").read_text())
batches = [bytes.fromhex(c["batch_hex"]) for c in batch["cases"] + batch["decode"] + batch["decode_invalid"]]


def write(target, blobs):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for b in blobs:
        (d / hashlib.sha1(b).hexdigest()).write_bytes(b)


def split_frames(blob):
    out, i = [], 0
    while i + 4 <= len(blob):
        n = int.from_bytes(blob[i:i + 4], "big")
        out.append(blob[i + 4:i + 4 + n])
        i += 4 + n
    return out


bodies = [f for blob in frames for f in split_frames(blob)]
write("frame_reader", frames)
write("broker_requests", bodies)
write("client_responses", [b[4:] for b in bodies if len(b) > 4])
write("record_batch", batches)
write("decompress", [b[57:] for b in batches if len(b) > 57])
print({t.name: len(list(t.iterdir())) for t in (HERE / "corpus").iterdir()})
