variable "name_prefix" {
  description = "Lowercase prefix of the function, queue and rule names (<prefix>-storage-counter, ...). Checked once, by the root module's prefix."
  type        = string
}

variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>ObjectSizes). Derived from the root module's checked prefix."
  type        = string
}

variable "function_package" {
  description = "Deployment package of the storage counter: zip path and its filebase64sha256."
  type = object({
    filename         = string
    source_code_hash = string
  })
}

variable "runtime" {
  description = "Lambda runtime of the storage counter (checked once, by the root module's lambda_runtime)."
  type        = string
}

variable "buckets" {
  description = "The buckets to count, by role: name and ARN. Each must send its events to EventBridge (aws_s3_bucket_notification with eventbridge = true, set by the bucket's owner)."
  type = map(object({
    name = string
    arn  = string
  }))

  validation {
    condition     = length(var.buckets) > 0
    error_message = "buckets must name at least one bucket."
  }
}

variable "stats_table" {
  description = "The stats table (modules/stats): name and ARN; `bucket#<name>` counters are updated there."
  type = object({
    name = string
    arn  = string
  })
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days (a CloudWatch value; 0 = never expire). Checked once, by the root module's log_retention_days."
  type        = number
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
