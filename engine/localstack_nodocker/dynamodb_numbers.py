"""DynamoDB numbers compared exactly.

Changes moto's ``DynamoType.cast_value``: DynamoDB orders numbers as decimals of up to 38
digits, moto casts them to float. Keys that differ past the 16th digit (e.g. an epoch-ms sort
key with a fractional uniqueness suffix) then compare equal: sort order breaks and a Scan or
Query resumed from such a LastEvaluatedKey returns the same page forever. Here numbers
compare as ``int`` or ``Decimal``. A seam.py target (EXACT_NUMBERS).
"""

from decimal import Decimal

from localstack_nodocker import seam


def compare_numbers_exactly() -> None:
    as_float = seam.original(seam.CAST_VALUE).fget

    def cast_value(self):
        if self.is_number():
            value = self.value
            # a fraction or an exponent is no int: not tried (the ValueError cost more than the
            # Decimal, at every comparison of an index's sort keys)
            if type(value) is str and ("." in value or "e" in value or "E" in value):
                return Decimal(value)
            try:
                return int(value)
            except ValueError:
                return Decimal(value)
        return as_float(self)

    seam.replace(seam.CAST_VALUE, property(cast_value))
