"""The load tests' filter tree and request corpora (Python 3 standard library only).

- `tree_spec(users)`: the main customer's filter tree (five levels, a 5,000,000-entry user list
  by default) in the form the `seed` example reads; the nginx + Lua peer evaluates the same
  JSON (`peers/filter.lua`), and `evaluate` below is the reference both are checked against.
- `make_corpus(...)`: bid requests built from the vendored real-world corpus
  (testdata/corpus/) by a generator that varies request ids, user ids (members of the big list
  or not), countries (alpha-3 and alpha-2), banner sizes, domains/bundles, authed scores and
  UID2 tokens, aiming at a given share of requests that pass the tree; each request's expected
  verdict is computed with `evaluate`, not assumed.
- `write_corpus(path, records)`: the `BSC1` file the wrk script and the probe read.
"""

import copy
import gzip
import json
import os
import random

MASK64 = (1 << 64) - 1


def splitmix64(x):
    """Twin of `bidsieve_loadtest::splitmix64`."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def user_id(i):
    """Twin of `bidsieve_loadtest::user_id`."""
    return "%016x%016x" % (splitmix64((2 * i) & MASK64), splitmix64((2 * i + 1) & MASK64))


def list_members(n, generation):
    """Twin of `bidsieve_loadtest::list_members`: (start, end) of the ids a generation holds."""
    shift = (n // 100) * (generation - 1)
    return shift, shift + n


# --------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------
COUNTRIES_IN = ["US", "GB", "CA", "DE", "FR", "ES", "IT", "NL", "SE", "AU", "JP", "BR"]
COUNTRIES_OUT = ["RU", "CN", "IN", "MX", "ID", "TR", "VN", "PK"]
ALPHA3 = {"US": "USA", "GB": "GBR", "CA": "CAN", "DE": "DEU", "FR": "FRA", "ES": "ESP",
          "IT": "ITA", "NL": "NLD", "SE": "SWE", "AU": "AUS", "JP": "JPN", "BR": "BRA",
          "RU": "RUS", "CN": "CHN", "IN": "IND", "MX": "MEX", "ID": "IDN", "TR": "TUR",
          "VN": "VNM", "PK": "PAK"}
SIZES_IN = ["300x250", "320x50", "728x90", "300x600", "160x600", "320x480", "970x250"]
SIZES_OUT = ["120x600", "468x60", "234x60", "125x125", "180x150"]
BLOCKED_DOMAINS = ["spam%d.example" % i for i in range(2000)] + ["clickfarm.example", "madeforads.example"]
PREMIUM_APPS = ["com.premiumgame%d.app" % i for i in range(200)]
SUPPLIER_BLOCKED = [987654, 987655]
AUTHED_AUDIENCE = 0.6
AUTHED_PREMIUM = 0.8


def tree_spec(users, generation=1):
    """The main customer's tree, as the `seed` example and the Lua peer read it."""
    return {
        "name": "root", "filter_type": "boolean", "field_type": "and", "filters": [
            {"name": "supplier_block", "filter_type": "black", "field_type": "supplier",
             "list": SUPPLIER_BLOCKED},
            {"name": "geo", "filter_type": "white", "field_type": "country", "list": COUNTRIES_IN},
            {"name": "brand_safety", "filter_type": "black", "field_type": "domain",
             "list": BLOCKED_DOMAINS},
            {"name": "inventory", "filter_type": "boolean", "field_type": "or", "filters": [
                {"name": "sizes", "filter_type": "white", "field_type": "size", "list": SIZES_IN},
                {"name": "premium_apps", "filter_type": "boolean", "field_type": "and", "filters": [
                    {"name": "app_list", "filter_type": "white", "field_type": "domain",
                     "list": PREMIUM_APPS},
                    {"name": "premium_score", "filter_type": "threshold", "field_type": "authed",
                     "operator": "greaterthan", "threshold": AUTHED_PREMIUM},
                ]},
            ]},
            {"name": "audience", "filter_type": "boolean", "field_type": "or", "filters": [
                {"name": "users", "filter_type": "white", "field_type": "user",
                 "user_list": {"count": users, "generation": generation}},
                {"name": "audience_score", "filter_type": "threshold", "field_type": "authed",
                 "operator": "greaterthan", "threshold": AUTHED_AUDIENCE},
                {"name": "uid2_ok", "filter_type": "white", "field_type": "uid2_status",
                 "list": ["SUCCESS"]},
            ]},
        ]}


def seed_spec(users, suppliers=4, extra_customers=8):
    return {
        "customer": {"name": "Acme Bidder", "slug": "acme", "qps": 10_000_000, "keep_nurl": False},
        "suppliers": ["OpenX", "Magnite", "PubMatic", "Index Exchange", "Xandr", "Sovrn"][:suppliers],
        "tree": tree_spec(users),
        "extra_customers": extra_customers,
    }


# --------------------------------------------------------------------------------------
# Reference extraction and evaluation (SPEC 2.4 and 3.2)
# --------------------------------------------------------------------------------------
FROM_ALPHA3 = {v: k for k, v in ALPHA3.items()}


def _obj(v):
    return v if isinstance(v, dict) else {}


def extract(req, uid2_status="NONE"):
    """The filter fields of a request, as SPEC 2.4 defines them (for the countries used here)."""
    f = {"uid2_status": uid2_status}
    user = _obj(req.get("user"))
    if isinstance(user.get("id"), str):
        f["user"] = user["id"]
    country = _obj(_obj(req.get("device")).get("geo")).get("country")
    if not isinstance(country, str):
        country = _obj(user.get("geo")).get("country")
    if isinstance(country, str):
        c = country.upper()
        c = FROM_ALPHA3.get(c, c)
        f["country"] = "GB" if c == "UK" else c
    sizes = []
    for imp in req.get("imp") or []:
        banner = _obj(_obj(imp).get("banner"))
        if isinstance(banner.get("w"), int) and isinstance(banner.get("h"), int):
            sizes.append("%dx%d" % (banner["w"], banner["h"]))
        for fmt in banner.get("format") or []:
            fmt = _obj(fmt)
            if isinstance(fmt.get("w"), int) and isinstance(fmt.get("h"), int):
                sizes.append("%dx%d" % (fmt["w"], fmt["h"]))
    f["size"] = sizes
    domain = _obj(req.get("site")).get("domain")
    if isinstance(domain, str):
        d = domain.lower()
        f["domain"] = d[4:] if d.startswith("www.") else d
    elif isinstance(_obj(req.get("app")).get("bundle"), str):
        f["domain"] = req["app"]["bundle"]
    score = _obj(_obj(_obj(req.get("ext")).get("authenticated")).get("authed")).get("score")
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        f["authed"] = float(score)
    return f


def evaluate(node, f, supplier_id, is_member):
    """SPEC 3.2 over the spec form of the tree; `is_member(user)` answers for the user list."""
    ft, kind = node["field_type"], node["filter_type"]
    if kind == "boolean":
        results = (evaluate(c, f, supplier_id, is_member) for c in node.get("filters", []))
        return all(results) if ft == "and" else any(results)
    if kind == "threshold":
        score = f.get("authed")
        if score is None:
            return False
        return score >= node["threshold"] if node["operator"] == "greaterthan" else score < node["threshold"]
    if ft == "supplier":
        values = [supplier_id]
    elif ft == "size":
        values = f.get("size", [])
    else:
        v = f.get(ft)
        values = [] if v is None else [v]
    if "user_list" in node:
        hit = any(is_member(v) for v in values)
    else:
        members = set(node["list"])
        hit = any(v in members for v in values)
    if kind == "white":
        return hit
    return not hit


# --------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------
def load_templates(corpus_dir):
    """Real-world requests that are usable bid requests (object, string id, non-empty imp)
    with exactly one of site/app."""
    out = []
    for sub in ("rtb4free", "iab-2.6"):
        folder = os.path.join(corpus_dir, sub)
        for name in sorted(os.listdir(folder)):
            if "response" in name or not (name.endswith(".txt") or name.endswith(".json")):
                continue
            try:
                with open(os.path.join(folder, name), "rb") as fh:
                    req = json.loads(fh.read().decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if not isinstance(req, dict) or not isinstance(req.get("id"), str):
                continue
            imps = req.get("imp")
            if not isinstance(imps, list) or not imps or not all(isinstance(i, dict) for i in imps):
                continue
            if ("site" in req) == ("app" in req):
                continue
            out.append((sub + "/" + name, req))
    if not out:
        raise SystemExit("no usable bid requests under %s" % corpus_dir)
    return out


def _drop_uid2_eids(req):
    user = req.get("user")
    if not isinstance(user, dict):
        return
    for holder in (user, _obj(user.get("ext"))):
        eids = holder.get("eids")
        if isinstance(eids, list):
            holder["eids"] = [e for e in eids if not (isinstance(e, dict) and e.get("source") == "uidapi.com")]


class Generator:
    def __init__(self, templates, users, seed, tokens=None, swap_safe=True):
        self.templates = templates
        self.rng = random.Random(seed)
        self.users = users
        # Members picked from ids every list generation up to 2 holds, so a list swap
        # changes no verdict.
        lo = users // 100 if swap_safe else 0
        self.member_range = (lo, users)
        self.nonmember_base = 10 * users + 1_000_000
        self.tokens = tokens or []
        self.n = 0

    def member(self):
        return user_id(self.rng.randrange(*self.member_range))

    def nonmember(self):
        return user_id(self.nonmember_base + self.rng.randrange(50_000_000))

    def make(self, want_pass, with_token):
        """One request, aiming at `want_pass`; returns (request, uid2_status, user_is_member)."""
        r = self.rng
        name, template = self.templates[self.n % len(self.templates)]
        self.n += 1
        req = copy.deepcopy(template)
        req["id"] = "lt-%08d-%s" % (self.n, "%016x" % r.getrandbits(64))
        req["tmax"] = 120
        _drop_uid2_eids(req)
        is_app = "app" in req
        reasons = ["country", "domain", "size"] + ([] if with_token else ["audience"])
        reason = None if want_pass else r.choice(reasons)

        # Country: alpha-3 as OpenRTB says, sometimes alpha-2 as many exchanges send.
        code = r.choice(COUNTRIES_OUT if reason == "country" else COUNTRIES_IN)
        device = req.setdefault("device", {})
        if not isinstance(device, dict):
            device = req["device"] = {}
        geo = device.setdefault("geo", {})
        if not isinstance(geo, dict):
            geo = device["geo"] = {}
        geo["country"] = ALPHA3[code] if r.random() < 0.8 else code

        # Domain or bundle; premium apps get a high score through the inventory branch.
        premium = is_app and reason not in ("size", "audience") and r.random() < 0.3
        if is_app:
            app = req["app"] if isinstance(req["app"], dict) else {}
            req["app"] = app
            if reason == "domain":
                app["bundle"] = r.choice(BLOCKED_DOMAINS)
            elif premium:
                app["bundle"] = r.choice(PREMIUM_APPS)
            else:
                app["bundle"] = "com.example.app%d" % r.randrange(5000)
        else:
            site = req["site"] if isinstance(req["site"], dict) else {}
            req["site"] = site
            if reason == "domain":
                site["domain"] = r.choice(BLOCKED_DOMAINS)
            else:
                host = "news%d.example" % r.randrange(20000)
                site["domain"] = ("www." + host) if r.random() < 0.4 else host

        # Sizes: the first impression's banner (added when the template has none).
        imp = req["imp"][0]
        banner = imp.get("banner")
        if reason == "size":
            if isinstance(banner, dict):
                w, h = r.choice(SIZES_OUT).split("x")
                banner["w"], banner["h"] = int(w), int(h)
                banner.pop("format", None)
            for other in req["imp"][1:]:
                if isinstance(other.get("banner"), dict):
                    other.pop("banner")
        elif not premium:
            if not isinstance(banner, dict):
                banner = imp["banner"] = {}
            w, h = r.choice(SIZES_IN).split("x")
            banner["w"], banner["h"] = int(w), int(h)
            if r.random() < 0.3:
                fw, fh = r.choice(SIZES_IN + SIZES_OUT).split("x")
                banner["format"] = [{"w": int(w), "h": int(h)}, {"w": int(fw), "h": int(fh)}]

        # Audience: a member of the big list, a high authed score, or a UID2 token.
        user = req.get("user")
        if not isinstance(user, dict):
            user = req["user"] = {}
        member = False
        score = None
        if reason == "audience":
            user["id"] = self.nonmember()
            score = round(r.uniform(0.0, AUTHED_AUDIENCE - 0.01), 3) if r.random() < 0.6 else None
        else:
            if r.random() < 0.6:
                user["id"] = self.member()
                member = True
            else:
                user["id"] = self.nonmember()
                score = round(r.uniform(AUTHED_AUDIENCE, 1.0), 3)
        if premium:
            score = round(r.uniform(AUTHED_PREMIUM, 1.0), 3)
        ext = req.get("ext")
        if not isinstance(ext, dict):
            ext = req["ext"] = {}
        if score is not None:
            ext["authenticated"] = {"authed": {"score": score}}
        else:
            ext.pop("authenticated", None)

        status = "NONE"
        if with_token:
            token = self.tokens[self.n % len(self.tokens)]
            entry = {"source": "uidapi.com", "uids": [{"id": token, "atype": 3}]}
            if r.random() < 0.5:
                uext = user.get("ext") if isinstance(user.get("ext"), dict) else {}
                user["ext"] = uext
                uext["eids"] = (uext.get("eids") if isinstance(uext.get("eids"), list) else []) + [entry]
            else:
                user["eids"] = (user.get("eids") if isinstance(user.get("eids"), list) else []) + [entry]
            status = "SUCCESS"
        return req, status, member


def make_corpus(templates, tree, users, count, pass_share, seed, gzip_bodies=False, tokens=None):
    """`count` requests, about `pass_share` of them passing `tree` (for supplier ids other
    than the blocked ones). Returns a list of dicts: body (bytes), gzip (bool), expected
    ("pass"/"drop"), template, size."""
    gen = Generator(templates, users, seed, tokens)
    rng = random.Random(seed + 1)
    members = set()
    out = []
    for _ in range(count):
        want = rng.random() < pass_share
        req, status, member = gen.make(want, bool(tokens))
        if member:
            members.add(req["user"]["id"])
        fields = extract(req, status)
        passed = evaluate(tree, fields, 1, lambda u: u in members)
        body = json.dumps(req, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        plain = len(body)
        if gzip_bodies:
            body = gzip.compress(body, compresslevel=6, mtime=0)
        out.append({"body": body, "gzip": gzip_bodies, "expected": "pass" if passed else "drop",
                    "plain_size": plain})
    return out


def write_corpus(path, records):
    with open(path, "wb") as fh:
        fh.write(b"BSC1 %d\n" % len(records))
        for rec in records:
            fh.write(b"%s %s %d\n" % (b"g" if rec["gzip"] else b"-", rec["expected"].encode(), len(rec["body"])))
            fh.write(rec["body"])
            fh.write(b"\n")


def summary(records):
    n = len(records)
    passed = sum(1 for r in records if r["expected"] == "pass")
    sizes = sorted(r["plain_size"] for r in records)
    return {"requests": n, "pass": passed, "pass_share": passed / n if n else 0.0,
            "median_bytes": sizes[n // 2] if n else 0,
            "median_wire_bytes": sorted(len(r["body"]) for r in records)[n // 2] if n else 0}
