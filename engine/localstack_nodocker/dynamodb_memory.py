"""DynamoDB items in less memory: the strings items repeat are held once.

moto keeps each item as Python objects: an Item, a dict of attributes and one DynamoType per
attribute, with every attribute name and value a string of its own, as the request's JSON
parser made it. Measured on log rows of eight attributes (tracemalloc, moto alone): 2,148
bytes per item, 460 of them the eight attribute names (the same eight in every item) and
most of the values' 370 short strings that repeat across items (a level, a service, a user,
a batch id).

Each item's attribute names, and its string values up to ``SHARED_VALUE_CHARS`` long, are
interned when the item is made: items then share one copy of each. The key attributes are
the item's own key objects (moto makes them twice: for the item's key and its attributes). On Python 3.13 interned
strings are freed with their last reference (they are not immortal), so unique values cost
only their entry in the interpreter's table while they live. Longer strings (messages, ids)
are mostly unique and are left as they are.
"""

import sys

from localstack_nodocker import seam

SHARED_VALUE_CHARS = 32
SCALARS = ("S", "N", "B")


def share_item_strings() -> None:
    make_item = seam.original(seam.ITEM_INIT)

    def compact_item(self, hash_key, range_key, attrs, *args, **kwargs):
        make_item(self, hash_key, range_key, attrs, *args, **kwargs)
        keys = [key for key in (hash_key, range_key) if key is not None]
        shared = type(self.attrs)()
        for value in [*keys, *self.attrs.values()]:
            if value.type == "S" and type(value.value) is str and len(value.value) <= SHARED_VALUE_CHARS:
                value.value = sys.intern(value.value)
        for name, value in self.attrs.items():
            # a key attribute: the item's key object itself (scalars are never changed in place)
            value = next((key for key in keys if value.type in SCALARS and key == value), value)
            dict.__setitem__(shared, sys.intern(name), value)  # the sizes were checked as moto set them
        self.attrs = shared

    seam.replace(seam.ITEM_INIT, compact_item)
