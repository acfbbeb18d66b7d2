locals {
  api_name      = "${var.name_prefix}-complete-api"
  function_name = "${var.name_prefix}-api-handler"

  route_resources = {
    root  = aws_api_gateway_rest_api.this.root_resource_id
    proxy = aws_api_gateway_resource.proxy.id
  }
  # "ANY proxy", "GET proxy", "OPTIONS proxy", "ANY root", ...
  routes = {
    for pair in setproduct(["root", "proxy"], ["ANY", "GET", "OPTIONS"]) :
    "${pair[1]} ${pair[0]}" => { resource = pair[0], method = pair[1] }
  }
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
    LOG_HOURS_TABLE         = var.tables.log_hours.name
    NOTIFICATION_DAYS_TABLE = var.tables.notification_days.name
    NOTIFICATIONS_QUEUE_URL = var.notifications_queue.url
    ORIGINALS_BUCKET        = var.originals_bucket.name
    DASHBOARD_FUNCTION_NAME = var.dashboard_function.name
    CORS_ALLOW_ORIGIN       = var.cors_allow_origin
    # The key the function reads: a new key is a new version id, so the function's
    # configuration changes with it and no warm environment keeps signing with the old one.
    TOKEN_KEY_SECRET_ARN = aws_secretsmanager_secret.token_key.arn
    TOKEN_KEY_VERSION_ID = aws_secretsmanager_secret_version.token_key.version_id
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
        for table in values(var.tables) : [table.arn, "${table.arn}/index/*"]
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
    {
      # Once per execution environment: the key that signs next_token (roxs_common.cursor).
      sid       = "ReadTokenKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [aws_secretsmanager_secret.token_key.arn]
    },
  ]
}

# The key that signs the API's paging tokens (next_token, roxs_common.cursor): generated
# per stack at apply time, never in the repository, and, written write-only, never in
# Terraform's plan or state either. Two uuid() values are 256 bits from the operating
# system's cryptographic source (Terraform's uuid() is 16 bytes of crypto/rand); unlike an
# ephemeral random password resource, this also plans offline against a mocked provider
# (tests/static/terraform). Only the API handler may read it. Raising api_token_key_version
# writes a new key: tokens signed with the old one are then refused (400, start again).
resource "aws_secretsmanager_secret" "token_key" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS-managed key (aws/secretsmanager); a customer-managed KMS key adds a key policy and a monthly cost for a key that only signs paging tokens.
  #checkov:skip=CKV2_AWS_57:Rotation means raising api_token_key_version (a new key, old tokens refused with a 400); a rotation Lambda would add a function for a key whose leak only lets a client forge positions the lists check anyway.
  name        = "${var.name_prefix}-api-token-key"
  description = "Signs the next_token of ${local.api_name}'s lists (read by ${local.function_name})."
  # Deleted at once on destroy, so the next apply can create the name again.
  recovery_window_in_days = 0
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "token_key" {
  secret_id                = aws_secretsmanager_secret.token_key.id
  secret_string_wo         = "${uuid()}${uuid()}"
  secret_string_wo_version = var.token_key_version
}

resource "aws_api_gateway_rest_api" "this" {
  name        = local.api_name
  description = "HTTP entry point of the ${var.name_prefix} system; every path goes to ${local.function_name}."

  # API keys travel in the x-api-key header (api_auth = "api_key").
  api_key_source = "HEADER"

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

# Every path (the root and {proxy+}) has three methods, all proxied to the handler, which
# routes: GET and OPTIONS (reads and CORS preflight) are public, and ANY, which API Gateway
# uses for every other method, carries the credential var.api_auth chooses. So a write
# route is protected wherever the handler adds it, and a new GET route is public, without
# a change here.
resource "aws_api_gateway_method" "route" {
  #checkov:skip=CKV_AWS_59:GET and OPTIONS are public by design (read-only summaries, the dashboard page, CORS preflight); every other method follows var.api_auth, and the offline plan test (tests/static/terraform/aws.tftest.hcl) fails if an AWS-style configuration leaves one open.
  #checkov:skip=CKV2_AWS_53:With a proxy integration every request reaches the handler, which validates bodies, parameters and methods itself (4xx with a reason; proven by the schemathesis run against docs/openapi.yaml).
  for_each = local.routes

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = local.route_resources[each.value.resource]
  http_method      = each.value.method
  authorization    = each.value.method == "ANY" && var.api_auth == "iam" ? "AWS_IAM" : "NONE"
  api_key_required = each.value.method == "ANY" && var.api_auth == "api_key"
}

resource "aws_api_gateway_integration" "route" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = local.route_resources[each.value.resource]
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST" # Lambda is always invoked with POST, whatever the client's method
  uri                     = module.function.invoke_arn
}

# Stacks applied before the per-method routes keep their ANY methods and integrations.
moved {
  from = aws_api_gateway_method.proxy
  to   = aws_api_gateway_method.route["ANY proxy"]
}

moved {
  from = aws_api_gateway_method.root
  to   = aws_api_gateway_method.route["ANY root"]
}

moved {
  from = aws_api_gateway_integration.proxy
  to   = aws_api_gateway_integration.route["ANY proxy"]
}

moved {
  from = aws_api_gateway_integration.root
  to   = aws_api_gateway_integration.route["ANY root"]
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Deployment of ${local.api_name}"

  # A deployment is a snapshot: redeploy whenever routes, their protection or integrations change.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy.id,
      aws_api_gateway_resource.proxy.path_part,
      [for key, method in aws_api_gateway_method.route : [key, method.id, method.authorization, method.api_key_required]],
      [for key, integration in aws_api_gateway_integration.route : [key, integration.id, integration.uri]],
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
  #checkov:skip=CKV2_AWS_29:WAF is not available on the LocalStack community engine and is billed per web ACL; stage throttling bounds the rate and the handler bounds body size (413) and page sizes.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = var.stage_name
  description   = "The ${var.stage_name} stage of ${local.api_name}"
  tags          = var.tags
}

# Every method of the stage: requests beyond the rate (after the burst) get 429 from API
# Gateway, before the function is invoked.
resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Responses are live counts and listings; caching would serve stale data (see CKV_AWS_120 on the stage).
  #checkov:skip=CKV_AWS_308:No cache is enabled, so there is no cache to encrypt.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
  }
}

# api_auth = "api_key": one key (its value generated by API Gateway, kept in the Terraform
# state and the sensitive output api_key) in a usage plan that caps its requests per day.
resource "aws_api_gateway_api_key" "writer" {
  count = var.api_auth == "api_key" ? 1 : 0

  name        = "${var.name_prefix}-api-writer"
  description = "Sent as x-api-key on the write methods of ${local.api_name}."
  tags        = var.tags
}

resource "aws_api_gateway_usage_plan" "writers" {
  count = var.api_auth == "api_key" ? 1 : 0

  name        = "${var.name_prefix}-api-writers"
  description = "Daily quota of the write methods of ${local.api_name}."
  tags        = var.tags

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  quota_settings {
    limit  = var.api_key_quota_per_day
    period = "DAY"
  }
}

resource "aws_api_gateway_usage_plan_key" "writer" {
  count = var.api_auth == "api_key" ? 1 : 0

  key_id        = aws_api_gateway_api_key.writer[0].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.writers[0].id
}

# api_auth = "iam": the policy to attach to a caller (user or role) that may write. Reads are
# public, so the policy names the whole stage rather than a list of methods to keep in step.
data "aws_iam_policy_document" "writer" {
  statement {
    sid       = "InvokeApi"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.this.execution_arn}/${aws_api_gateway_stage.this.stage_name}/*/*"]
  }
}

resource "aws_iam_policy" "writer" {
  count = var.api_auth == "iam" ? 1 : 0

  name        = "${var.name_prefix}-api-writer"
  description = "Lets a caller sign requests to the write methods of ${local.api_name} (AWS_IAM authorization)."
  policy      = data.aws_iam_policy_document.writer.json
  tags        = var.tags
}

resource "aws_lambda_permission" "allow_api_gateway" {
  statement_id  = "AllowInvokeFromApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "apigateway.amazonaws.com"
  # Any stage, any method, any path (including the root) of this API only.
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/*/*"
}
