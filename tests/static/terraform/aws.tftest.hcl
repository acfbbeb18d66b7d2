# The stack as it would go to AWS: plain `terraform` (no tflocal override file), planned
# offline against a mocked AWS provider. tests/static/test_terraform_aws_plan.py runs this
# file with -verbose -json and checks the planned resources (nested modules included,
# which assertions here cannot reach) for each run below.

mock_provider "aws" {
  # The provider validates these computed values itself: give them a well-formed shape.
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  # The real document is rendered by the provider, which is mocked: the Python side checks
  # the statements (the data source's arguments), not this placeholder.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

# An AWS-style configuration: its own prefix, region, dashboard origin and retention.
variables {
  prefix             = "acme-prod"
  aws_region         = "eu-west-3"
  cors_allow_origin  = "https://dashboard.example.com"
  log_retention_days = 30
  api_auth           = "api_key"
  build_dir          = "build"
}

run "aws_with_api_key" {
  command = plan

  assert {
    condition     = output.api_auth == "api_key" && output.api_writer_policy_arn == null
    error_message = "api_auth = api_key must give a key and no IAM policy."
  }

  assert {
    condition     = alltrue([for name in values(output.functions) : startswith(name, "acme-prod-")])
    error_message = "Every function name must start with the prefix."
  }

  assert {
    condition     = alltrue([for name in values(output.tables) : startswith(name, "Acme-prod")])
    error_message = "Every table name must start with the capitalised prefix."
  }
}

run "aws_with_iam" {
  command = plan

  variables {
    api_auth = "iam"
  }

  assert {
    condition     = output.api_auth == "iam"
    error_message = "api_auth = iam must be reported by the outputs."
  }
}

run "tutorial_without_auth" {
  command = plan

  variables {
    api_auth = "none"
  }
}

# Values that would deploy and then fail, or leave the API open by a typo.
run "unusable_values_are_refused" {
  command = plan

  variables {
    lambda_runtime = "python3.12"
    api_auth       = "basic"
  }

  expect_failures = [var.lambda_runtime, var.api_auth]
}

# The image processor's bounds are limits.json's, checked at the root.
run "image_settings_outside_limits_json_are_refused" {
  command = plan

  variables {
    thumbnail_max_px = 2048
    max_image_pixels = 999999
  }

  expect_failures = [var.thumbnail_max_px, var.max_image_pixels]
}
