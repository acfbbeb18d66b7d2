locals {
  table_name = "${var.table_name_prefix}Stats"
}

# Counters kept at write time (roxs_common.aggregates): totals per domain and per bucket,
# and per-minute activity items that expire through the TTL on ExpiresAt.
resource "aws_dynamodb_table" "stats" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for counters that are not secret.
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "Counter"

  attribute {
    name = "Counter"
    type = "S"
  }

  ttl {
    attribute_name = "ExpiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}
