locals {
  api_name      = "${var.name_prefix}-complete-api"
  function_name = "${var.name_prefix}-api-handler"
}

module "function" {
  source = "../lambda_function"

  function_name      = local.function_name
  description        = "Handles every route of ${local.api_name} (API Gateway proxy integration)."
  handler            = "api_handler.lambda_handler"
  runtime            = var.runtime
  filename           = var.function_package.filename
  source_code_hash   = var.function_package.source_code_hash
  timeout            = var.function_timeout
  memory_size        = var.function_memory_size
  log_retention_days = var.log_retention_days
  tags               = var.tags

  environment = {
    STATS_TABLE             = var.stats_table.name
    METADATA_TABLE          = var.tables.images.name
    LOG_INDEX_TABLE         = var.tables.logs.name
    HISTORY_TABLE           = var.tables.notifications.name
    NOTIFICATIONS_QUEUE_URL = var.notifications_queue.url
    ORIGINALS_BUCKET        = var.originals_bucket.name
    DASHBOARD_FUNCTION_NAME = var.dashboard_function.name
    CORS_ALLOW_ORIGIN       = var.cors_allow_origin
  }

  policy_statements = [
    {
      # A fixed number of counter items per request (roxs_common.aggregates.read_counters).
      sid       = "ReadCounters"
      actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem"]
      resources = [var.stats_table.arn]
    },
    {
      # Lists are pages of a Query (on a table or its indexes, newest first), never a Scan.
      sid     = "ReadTables"
      actions = ["dynamodb:Query", "dynamodb:GetItem"]
      resources = flatten([
        for table in [var.tables.images, var.tables.logs, var.tables.notifications] : [table.arn, "${table.arn}/index/*"]
      ])
    },
    {
      sid       = "ListOriginals"
      actions   = ["s3:ListBucket"]
      resources = [var.originals_bucket.arn]
    },
    {
      sid       = "EnqueueNotifications"
      actions   = ["sqs:SendMessage"]
      resources = [var.notifications_queue.arn]
    },
    {
      sid       = "InvokeDashboard"
      actions   = ["lambda:InvokeFunction"]
      resources = [var.dashboard_function.arn]
    },
  ]
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.api_name
  description = "HTTP entry point of the ${var.name_prefix} system; every path goes to ${local.function_name}."

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    # A replacement API exists before the old one goes (API names need not be unique).
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "{proxy+}"
}

# Routing, validation and authorisation of callers happen in the handler; the API itself is open.
resource "aws_api_gateway_method" "proxy" {
  #checkov:skip=CKV_AWS_59:The API is public by contract (the tutorial's demo API and the dashboard page): it serves read-only summaries and one validated, size-limited POST that only queues a notification.
  #checkov:skip=CKV2_AWS_53:With a proxy integration every request reaches the handler, which validates bodies, parameters and methods itself (4xx with a reason; proven by the schemathesis run against docs/openapi.yaml).
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_resource.proxy.id
  http_method   = "ANY"
  authorization = "NONE"
}

resource "aws_api_gateway_method" "root" {
  #checkov:skip=CKV_AWS_59:The API is public by contract (the tutorial's demo API and the dashboard page): it serves read-only summaries and one validated, size-limited POST that only queues a notification.
  #checkov:skip=CKV2_AWS_53:With a proxy integration every request reaches the handler, which validates bodies, parameters and methods itself (4xx with a reason; proven by the schemathesis run against docs/openapi.yaml).
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_rest_api.this.root_resource_id
  http_method   = "ANY"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "proxy" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.proxy.id
  http_method             = aws_api_gateway_method.proxy.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST" # Lambda is always invoked with POST, whatever the client's method
  uri                     = module.function.invoke_arn
}

resource "aws_api_gateway_integration" "root" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_rest_api.this.root_resource_id
  http_method             = aws_api_gateway_method.root.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = module.function.invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Deployment of ${local.api_name}"

  # A deployment is a snapshot: redeploy whenever routes or integrations change.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy.id,
      aws_api_gateway_resource.proxy.path_part,
      aws_api_gateway_method.proxy.id,
      aws_api_gateway_method.proxy.authorization,
      aws_api_gateway_method.root.id,
      aws_api_gateway_method.root.authorization,
      aws_api_gateway_integration.proxy.id,
      aws_api_gateway_integration.proxy.uri,
      aws_api_gateway_integration.root.id,
      aws_api_gateway_integration.root.uri,
    ]))
  }

  lifecycle {
    # The stage points at the new deployment before the old one is deleted.
    create_before_destroy = true
  }
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_73:X-Ray tracing is not available on the LocalStack community engine this project runs on; the handler logs the API Gateway request id with every line.
  #checkov:skip=CKV_AWS_76:Access logging needs the account-wide API Gateway CloudWatch role (aws_api_gateway_account, one per account and region), which a single stack should not own; the handler logs method, path and request id of every request.
  #checkov:skip=CKV2_AWS_4:Execution logging has the same account-wide prerequisite as access logging (see CKV_AWS_76).
  #checkov:skip=CKV_AWS_120:Responses are live counts and listings; a cache cluster (billed per hour) would serve stale data.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to a backend HTTP server; the backend here is a Lambda proxy integration, and the callers are browsers.
  #checkov:skip=CKV2_AWS_29:WAF is not available on the LocalStack community engine and is billed per web ACL; the handler bounds body size (413) and page sizes itself.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = var.stage_name
  description   = "The ${var.stage_name} stage of ${local.api_name}"
  tags          = var.tags
}

resource "aws_lambda_permission" "allow_api_gateway" {
  statement_id  = "AllowInvokeFromApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "apigateway.amazonaws.com"
  # Any stage, any method, any path (including the root) of this API only.
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/*/*"
}
