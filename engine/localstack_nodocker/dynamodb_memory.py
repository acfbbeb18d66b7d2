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

The item is made here whole, as moto's ``Item.__init__`` makes it (a ``LimitedSizeDict`` of
``DynamoType`` values, ``ItemSizeTooLarge`` once the attributes so far pass moto's limit), but
the size is summed as the attributes come: moto's dict sums every attribute before it at each
insert (the O(n²) that was a tenth of a log chunk's transaction).
"""

import sys

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.dynamodb.models.utilities import bytesize

from localstack_nodocker import seam

SHARED_VALUE_CHARS = 32
SCALARS = ("S", "N", "B")
# moto's LimitedSizeDict: 400 KB, and some slack its author measured (a seam.py shape checks it)
MOTO_ITEM_BYTES = 405000


def share_item_strings() -> None:
    seam.original(seam.ITEM_INIT)  # its shape checked: what the replacement makes as it does

    def compact_item(self, hash_key, range_key, attrs):
        self.hash_key, self.range_key = hash_key, range_key
        keys = [key for key in (hash_key, range_key) if key is not None]
        for key in keys:
            _intern_short(key)
        shared, size = LimitedSizeDict(), 0
        for name, value in attrs.items():
            value = DynamoType(value)
            size += bytesize(name) + value.size()
            if size > MOTO_ITEM_BYTES:
                raise ItemSizeTooLarge
            _intern_short(value)
            # a key attribute: the item's key object itself (scalars are never changed in place)
            value = next((key for key in keys if value.type in SCALARS and key == value), value)
            dict.__setitem__(shared, sys.intern(name), value)  # its size counted above
        self.attrs = shared

    seam.replace(seam.ITEM_INIT, compact_item)


def _intern_short(value) -> None:
    if value.type == "S" and type(value.value) is str and len(value.value) <= SHARED_VALUE_CHARS:
        value.value = sys.intern(value.value)
