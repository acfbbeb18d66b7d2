"""DynamoDB served by LocalStack's bundled moto (no DynamoDB Local, no Java download).

Every operation goes to moto, the way LocalStack serves ec2 and acm. Its streams are served by
streams.py (``dynamodbstreams:moto``). Where moto differs from DynamoDB in ways the stack
depends on, the provider patches it, one module per difference: numbers compare exactly
(dynamodb_numbers.py), requests are atomic (dynamodb_requests.py), a Query reads only its
partition (dynamodb_query.py) and an index partition is kept up with every write
(dynamodb_indexes.py), a transaction saves and restores only its own items
(dynamodb_transactions.py), items hold the strings they repeat once (dynamodb_memory.py) and
are copied directly (dynamodb_copies.py), and expressions are parsed once per text
(dynamodb_expressions.py). Where
moto's answers differ from DynamoDB's, the provider's own operations shape them: table
descriptions (dynamodb_tables.py), item operations and BatchWriteItem (dynamodb_answers.py),
whose items are checked before any is written (dynamodb_items.py), replicas served in their
regions (dynamodb_replicas.py), and PartiQL runs as the operations it stands for
(dynamodb_partiql.py). The item operations call moto's handler directly, without its HTTP
dispatch and botocore's parsing of its answer (dynamodb_direct.py). Each moto internal they
patch or read is a target in seam.py, checked at start.
"""

from localstack.aws.api import RequestContext, handler
from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider

from localstack_nodocker import (
    dynamodb_answers,
    dynamodb_copies,
    dynamodb_direct,
    dynamodb_expressions,
    dynamodb_indexes,
    dynamodb_memory,
    dynamodb_numbers,
    dynamodb_partiql,
    dynamodb_query,
    dynamodb_requests,
    dynamodb_tables,
    dynamodb_transactions,
)


class MotoDynamoDBProvider(DynamodbApi):
    """Every operation not here is dispatched to moto by MotoFallbackDispatcher; those here go
    to moto too, their answers as DynamoDB gives them (dynamodb_tables.py, dynamodb_answers.py),
    the item operations to moto's handler directly (dynamodb_direct.py), and PartiQL runs as the
    operations it stands for (dynamodb_partiql.py)."""

    @handler("CreateTable", expand=False)
    def create_table(self, context: RequestContext, request):
        return dynamodb_tables.create_table(context, request)

    @handler("DescribeTable", expand=False)
    def describe_table(self, context: RequestContext, request):
        return dynamodb_tables.describe_table(context, request)

    @handler("UpdateTable", expand=False)
    def update_table(self, context: RequestContext, request):
        return dynamodb_tables.update_table(context, request)

    @handler("DeleteTable", expand=False)
    def delete_table(self, context: RequestContext, request):
        return dynamodb_tables.delete_table(context, request)

    @handler("RestoreTableFromBackup", expand=False)
    def restore_table_from_backup(self, context: RequestContext, request):
        return dynamodb_tables.restore_table(context, request)

    @handler("RestoreTableToPointInTime", expand=False)
    def restore_table_to_point_in_time(self, context: RequestContext, request):
        return dynamodb_tables.restore_table(context, request)

    @handler("DescribeContributorInsights", expand=False)
    def describe_contributor_insights(self, context: RequestContext, request):
        return dynamodb_tables.describe_contributor_insights(context, request)

    @handler("GetItem", expand=False)
    def get_item(self, context: RequestContext, request):
        return dynamodb_direct.answer(context)

    @handler("Query", expand=False)
    def query(self, context: RequestContext, request):
        return dynamodb_direct.answer(context)

    @handler("Scan", expand=False)
    def scan(self, context: RequestContext, request):
        return dynamodb_direct.answer(context)

    @handler("PutItem", expand=False)
    def put_item(self, context: RequestContext, request):
        return dynamodb_answers.put_item(context, request)

    @handler("UpdateItem", expand=False)
    def update_item(self, context: RequestContext, request):
        return dynamodb_answers.answered(context, request)

    @handler("DeleteItem", expand=False)
    def delete_item(self, context: RequestContext, request):
        return dynamodb_answers.answered(context, request)

    @handler("BatchGetItem", expand=False)
    def batch_get_item(self, context: RequestContext, request):
        return dynamodb_answers.answered(context, request)

    @handler("BatchWriteItem", expand=False)
    def batch_write_item(self, context: RequestContext, request):
        return dynamodb_answers.batch_write_item(context, request)

    @handler("TransactWriteItems", expand=False)
    def transact_write_items(self, context: RequestContext, request):
        return dynamodb_answers.transact_write_items(context, request)

    @handler("TransactGetItems", expand=False)
    def transact_get_items(self, context: RequestContext, request):
        return dynamodb_answers.transact_get_items(context, request)

    @handler("ExecuteStatement", expand=False)
    def execute_statement(self, context: RequestContext, request):
        return dynamodb_partiql.execute_statement(context, request)

    @handler("BatchExecuteStatement", expand=False)
    def batch_execute_statement(self, context: RequestContext, request):
        return dynamodb_partiql.batch_execute_statement(context, request)

    @handler("ExecuteTransaction", expand=False)
    def execute_transaction(self, context: RequestContext, request):
        return dynamodb_partiql.execute_transaction(context, request)


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    dynamodb_numbers.compare_numbers_exactly()
    dynamodb_expressions.parse_expressions_once()
    dynamodb_copies.copy_items_directly()
    dynamodb_memory.share_item_strings()
    dynamodb_requests.serialise_requests(after=dynamodb_indexes.forget_unless_maintained)
    dynamodb_query.query_reads_one_partition()
    dynamodb_transactions.write_one_record_per_update()  # first: the index upkeep wraps it
    dynamodb_indexes.keep_indexes_up_with_writes()
    dynamodb_transactions.save_and_restore_own_items()
    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)
