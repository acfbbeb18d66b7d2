"""S3 keys for the listing tests: the edge cases of issue 20 and a strategy for any key.

S3 stores any Unicode text of 1 to 1,024 bytes of UTF-8 as a key and lists keys in UTF-8
binary order."""

from hypothesis import strategies as st

# The keys LocalStack listed again (%, \r), skipped (a+b after a%2Bb) or whose token the
# API refused (NUL, controls, noncharacters, the last code point), and their neighbours.
EDGE_KEYS = [
    "100%.png",
    "100%25.png",
    "a+b.png",
    "a%2Bb.png",
    "a b.png",
    "x\ry",
    "\x00nul",
    "\x01",
    "tab\there",
    "del\x7f",
    "\ufdd0k",
    "\ufffe",
    "\U0010ffff",
    "é",
    "dir/100%/a",
    "dir/a+b/c",
    " ",
    ".",
    "..",
    "~",
    "&lt;<>",
]
# Any Unicode scalar value (UTF-8 has no surrogates). Keys made only of "/" are left out:
# LocalStack routes `PUT /bucket//` as a bucket request (a separate gap, not the listing's).
KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10).filter(lambda key: key.strip("/"))


def in_s3_order(keys) -> list[str]:
    return sorted(set(keys), key=lambda key: key.encode("utf-8"))
