"""Write the small-packet benchmark capture: SESSIONS complete sessions (handshake, a
request of ~35 bytes, a reply of 38-134 bytes, FIN both ways), 8 packets each.

    python3 bindings/python/tests/mkbench.py OUT.pcap [SESSIONS]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capgen  # noqa: E402

capgen.write_sessions(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100000)
