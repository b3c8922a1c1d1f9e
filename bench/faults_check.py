#!/usr/bin/python3
"""What bench/faults.sh and bench/faults_mpi.sh check, read without deepdist.

  faults_check.py json FIELD...   the last line of stdin, a JSON object: the
                                  fields named, space-separated, "-" for one
                                  missing (booleans lowercase)
  faults_check.py checkpoint DIR  the checkpoint in DIR, checked as deepdist's
                                  loader would

The checkpoint check: checkpoint.ddc's header, the CRC-32 of all before its
last 4 bytes, its sections' lengths; for a distributed checkpoint (a "shards"
section "R g") every shard file it names, the same way, with their sections.
Prints "R G WORDS MTIME SPREAD": the ranks and generation (1 0 for an embedded
checkpoint), the words trained when it was taken (rank 0's shard's),
checkpoint.ddc's mtime in seconds since the epoch, and how far the shards'
word counts differ; or one line of why it is not whole, with exit 1.
"""
import json
import os
import re
import struct
import sys
import zlib


def json_fields(names):
    d = json.loads(sys.stdin.read().strip().splitlines()[-1])
    print(" ".join(str(d.get(k, "-")).lower() for k in names))


def bad(path, why):
    print("%s: not whole: %s" % (os.path.basename(path), why))
    sys.exit(1)


def sections(path, needed):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        bad(path, "missing (named by checkpoint.ddc)")
    if len(data) < 16 or data[:8] != b"DDCKPT01":
        bad(path, "no header")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        bad(path, "checksum mismatch")
    (count,) = struct.unpack_from("<I", data, 8)
    at, found = 12, {}
    for _ in range(count):
        if at + 4 > len(data) - 4:
            bad(path, "truncated section header")
        (n,) = struct.unpack_from("<I", data, at)
        name = data[at + 4:at + 4 + n].decode("utf-8", "replace")
        at += 4 + n
        if at + 8 > len(data) - 4:
            bad(path, "truncated section header")
        (size,) = struct.unpack_from("<Q", data, at)
        at += 8
        found[name] = data[at:at + size]
        at += size
    if at != len(data) - 4:
        bad(path, "sections of %d bytes in %d" % (at, len(data) - 4))
    for name in needed:
        if name not in found:
            bad(path, "no section " + name)
    if "train" in needed and len(found["train"]) < 16:
        bad(path, "training state too short")
    return found


def trained_words(train):
    return struct.unpack_from("<QQ", train, 0)[1]


def checkpoint(folder):
    main = os.path.join(folder, "checkpoint.ddc")
    head = sections(main, ("settings", "vocab", "partitions"))
    if "shards" in head:
        m = re.fullmatch(r"([0-9]+) ([0-9]+)", head["shards"].decode("ascii", "replace"))
        if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
            bad(main, "shards: %r is not \"ranks generation\"" % head["shards"])
        ranks, generation = int(m.group(1)), int(m.group(2))
        words = []
        for r in range(ranks):
            shard = sections(os.path.join(folder, "shard-%d-of-%d.%d.ddc" % (r, ranks, generation)),
                             ("shard", "rule", "table/0", "table/1", "train"))
            words.append(trained_words(shard["train"]))
    else:
        ranks, generation = 1, 0
        words = [trained_words(sections(main, ("train", "table/0", "table/1"))["train"])]
    print(ranks, generation, words[0], "%.3f" % os.stat(main).st_mtime, max(words) - min(words))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "json":
        json_fields(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "checkpoint":
        checkpoint(sys.argv[2])
    else:
        sys.exit(__doc__)
