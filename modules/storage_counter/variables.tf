variable "name_prefix" {
  description = "Lowercase prefix of the function, queue and rule names (<prefix>-storage-counter, ...)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.name_prefix)) && length(var.name_prefix) <= 20
    error_message = "name_prefix must be at most 20 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>ObjectSizes)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,200}$", var.table_name_prefix))
    error_message = "table_name_prefix must be 1 to 200 characters of [A-Za-z0-9_.-] (DynamoDB table-name rules)."
  }
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
  description = "Retention of the function's log group in days (a CloudWatch value; 0 = never expire)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}
