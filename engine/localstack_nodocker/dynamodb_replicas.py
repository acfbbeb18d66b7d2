"""DynamoDB replicas (global tables version 2019.11.21: UpdateTable's ``ReplicaUpdates``).

moto ignores ``ReplicaUpdates``: the replica's region had no table. LocalStack's own provider
(with DynamoDB Local) keeps one copy of a global table, in the region it was created in, and
serves the replica regions' requests from it. The engine does the same with moto: a replica
region's moto backend holds the table itself under its name, so every request there (item
reads and writes, queries, batches and transactions, PartiQL, streams) reaches the one table,
its items, indexes and stream, under the engine's one DynamoDB lock. The replicas are kept on
the table (``nodocker_replicas``, saved with it); answers given in a replica's region name the
table, its indexes and its stream by ARNs in that region, and list the global table's other
regions as ``Replicas``.

Kept as LocalStack keeps it: deleting the table in its own region deletes its replicas (on AWS
they stay tables of their own), and a replica's stream holds the table's records, written in
the table's region (``awsRegion``).
"""

import functools

from localstack_nodocker import dynamodb_tables

GLOBAL_TABLE_VERSION = "2019.11.21"
# On moto's table: {region: ReplicaDescription} of its replicas in other regions.
_REPLICAS = "nodocker_replicas"


@functools.cache
def _regions() -> frozenset:
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("dynamodb", partition_name=partition)
    )


def replicas(table) -> dict:
    return getattr(table, _REPLICAS, None) or {}


def _backend(account: str, region: str):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account][region]


def in_region(arn: str, region: str) -> str:
    """``arn`` (``arn:<partition>:dynamodb:<region>:...``) in another region."""
    parts = arn.split(":", 4)
    return ":".join([*parts[:3], region, parts[4]])


def updated(table, updates: list[dict]) -> dict:
    """The table's replicas after UpdateTable's ``ReplicaUpdates`` (each ``Create``, ``Update``
    or ``Delete``); DynamoDB's refusal if one cannot be made. Nothing changed yet (``keep``)."""
    held = dict(replicas(table))
    for entry in updates:
        for action, details in entry.items():
            region = details.get("RegionName")
            if region not in _regions():
                raise dynamodb_tables.ValidationException(f"Region {region} is not supported")
            if action == "Create":
                if region == table.region_name:
                    continue  # the table is there (LocalStack's CloudFormation asks for its own region)
                if region in held or table.name in _backend(table.account_id, region).tables:
                    raise dynamodb_tables.ValidationException(
                        f"Failed to create a the new replica of table with name: '{table.name}' because one or "
                        "more replicas already existed as tables."
                    )
                held[region] = {**details, "ReplicaStatus": "ACTIVE"}
            elif region not in held:
                raise dynamodb_tables.ValidationException(
                    "Update global table operation failed because one or more replicas were not part of the "
                    "global table."
                )
            elif action == "Update":
                held[region] = {**held[region], **details}
            elif action == "Delete":
                del held[region]
    return held


def keep(table, held: dict) -> None:
    """The table's replicas now ``held`` (from ``updated``), in their regions' backends."""
    for region in set(replicas(table)) - set(held):
        _backend(table.account_id, region).tables.pop(table.name, None)
    for region in set(held) - set(replicas(table)):
        _backend(table.account_id, region).tables[table.name] = table
    setattr(table, _REPLICAS, held)


def forget(table, region: str) -> None:
    """The replica in ``region`` deleted (DeleteTable there)."""
    held = dict(replicas(table))
    held.pop(region, None)
    _backend(table.account_id, region).tables.pop(table.name, None)
    setattr(table, _REPLICAS, held)


def forget_all(table) -> None:
    """The table deleted in its own region: its replicas with it."""
    for region in replicas(table):
        _backend(table.account_id, region).tables.pop(table.name, None)
    setattr(table, _REPLICAS, {})


def describe_in(region: str, table, description: dict) -> None:
    """A description of ``table`` as its region ``region`` gives it: its ARNs there, and the
    global table's other regions as ``Replicas``."""
    if region != table.region_name:
        for field in ("TableArn", "LatestStreamArn"):
            if field in description:
                description[field] = in_region(description[field], region)
    others = [{"RegionName": table.region_name, "ReplicaStatus": "ACTIVE"}] if region != table.region_name else []
    others += [replica for name, replica in replicas(table).items() if name != region]
    if others:
        description["Replicas"] = others
        description["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
