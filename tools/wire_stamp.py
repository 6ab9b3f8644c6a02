#!/usr/bin/env python3
"""Writes proxy_wire_stamp.h: a hash of the headers that define stockade's wire to
stockade-tls (src/net/proxy_wire.h), so that the two executables of one build agree and a
stockade-tls of another build is refused.  usage: wire_stamp.py OUTPUT HEADER..."""
import hashlib
import sys

digest = hashlib.sha256()
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        digest.update(f.read())
with open(sys.argv[1], "w") as out:
    out.write('#define PROXY_WIRE_STAMP "%s"\n' % digest.hexdigest()[:20])
