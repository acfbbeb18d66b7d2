variable "name_prefix" {
  description = "Lowercase prefix of bucket and function names (<prefix>-logs-storage, <prefix>-log-processor, ...). Checked once, by the root module's prefix."
  type        = string
}

variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>LogIndex), for example Roxs. Derived from the root module's checked prefix."
  type        = string
}

variable "function_package" {
  description = "Deployment package of the log processor: zip path and its filebase64sha256."
  type = object({
    filename         = string
    source_code_hash = string
  })
}

variable "runtime" {
  description = "Lambda runtime of the log processor (checked once, by the root module's lambda_runtime)."
  type        = string
}

variable "function_timeout" {
  description = "Timeout of the log processor in seconds."
  type        = number
  default     = 60
}

variable "function_memory_size" {
  description = "Memory of the log processor in MB."
  type        = number
  default     = 512
}

variable "force_destroy_buckets" {
  description = "Whether destroy empties and deletes the log bucket even when it holds objects."
  type        = bool
  default     = false
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

variable "stats_table" {
  description = "The stats table (modules/stats): name and ARN; counters are updated there."
  type = object({
    name = string
    arn  = string
  })
}
