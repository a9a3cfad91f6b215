#!/usr/bin/env python3
"""Time the official UID2 Python SDK (uid2-client) decrypting the tokens benches/benches/uid2.rs times.

    python3 -m venv .venv && .venv/bin/pip install -r testdata/uid2-oracle/requirements.txt
    .venv/bin/python benches/uid2_python_sdk.py [--vectors PATH] [--seconds 2]

Keys are loaded with BidstreamClient._refresh_json (the same decrypted JSON refresh() receives) and
tokens decrypted with _decrypt_token_into_raw_uid(token, domain, now) at the vectors' reference time,
as uid2-oracle/make_vectors.py does. Prints ns/token per version (best of 5 runs).
"""

import argparse
import datetime as dt
import json
import os
import sys
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
CANDIDATES = [
    os.path.join(HERE, "..", "testdata", "uid2-oracle", "vectors.json"),
    os.path.join(HERE, "..", "..", "shared", "uid2-oracle", "vectors.json"),
]
# The same vectors as the criterion bench.
TOKENS = [("v2", "sdk_v2_uid2_ok"), ("v3", "sdk_v3_uid2_email_ok"), ("v4", "sdk_v4_uid2_email_ok")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", default=next((p for p in CANDIDATES if os.path.isfile(p)), CANDIDATES[0]))
    ap.add_argument("--seconds", type=float, default=2.0, help="approximate time per run")
    args = ap.parse_args()

    try:
        import uid2_client
        from uid2_client import BidstreamClient
    except ImportError:
        sys.exit("uid2-client is not installed: pip install -r testdata/uid2-oracle/requirements.txt")

    doc = json.load(open(args.vectors))
    by_name = {v["name"]: v for v in doc["token_vectors"]}
    client = BidstreamClient("http://127.0.0.1:9", doc["meta"]["client_api_key"], doc["meta"]["client_secret_b64"])
    rr = client._refresh_json(json.dumps(doc["key_sets"]["bidstream"]["response"]))
    if not rr.success:
        sys.exit("the SDK refused the key set: %r" % (rr.reason,))
    now = dt.datetime.fromtimestamp(doc["meta"]["reference_now_ms"] / 1000, tz=dt.timezone.utc)

    version = getattr(uid2_client, "__version__", None)
    try:
        from importlib import metadata
        version = metadata.version("uid2_client")
    except Exception:
        pass
    print("uid2-client %s, Python %s" % (version, sys.version.split()[0]))
    for label, name in TOKENS:
        token = by_name[name]["token"]
        want = by_name[name]["recommended"]["uid"]
        r = client._decrypt_token_into_raw_uid(token, None, now)
        if str(r.status).split(".")[-1] != "SUCCESS" or r.uid != want:
            sys.exit("%s: the SDK did not decrypt the token to the expected UID" % label)
        t = timeit.Timer(lambda: client._decrypt_token_into_raw_uid(token, None, now))
        n, took = t.autorange()
        loops = max(1, int(n * args.seconds / max(took, 1e-9)))
        best = min(t.repeat(repeat=5, number=loops)) / loops
        print("%s: %.0f ns/token (%d decryptions per run, best of 5)" % (label, best * 1e9, loops))


if __name__ == "__main__":
    main()
