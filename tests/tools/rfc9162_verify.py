#!/usr/bin/env python3
"""An independent RFC 9162 proof verifier, for interop tests of `stele prove`.

Written from RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency)
with Python's hashlib, sharing no code with stele.  Usage:
    rfc9162_verify.py PROOF.json [--root HEX]
Exit 0 if the proof verifies (and, with --root, leads to that root), else 1.
"""
import hashlib
import json
import sys


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, path, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    if first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if first == 0:
        return not path
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


def main():
    proof = json.load(open(sys.argv[1]))
    want_root = None
    if len(sys.argv) == 4 and sys.argv[2] == "--root":
        want_root = bytes.fromhex(sys.argv[3])
    path = [bytes.fromhex(h) for h in proof["proof"]]
    if "leaf_index" in proof:
        root = bytes.fromhex(proof["root_hash"])
        ok = verify_inclusion(proof["leaf_index"], proof["tree_size"], bytes.fromhex(proof["leaf_hash"]), path, root)
    else:
        root = bytes.fromhex(proof["new_root"])
        ok = verify_consistency(proof["old_size"], proof["new_size"], bytes.fromhex(proof["old_root"]), root, path)
    if want_root is not None and root != want_root:
        ok = False
    print("valid" if ok else "INVALID")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
