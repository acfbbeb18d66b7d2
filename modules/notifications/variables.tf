variable "name_prefix" {
  description = "Lowercase prefix of topic, queue and function names (<prefix>-notifications, <prefix>-notification-processor, ...)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.name_prefix)) && length(var.name_prefix) <= 20
    error_message = "name_prefix must be at most 20 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>NotificationHistory), for example Roxs."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,200}$", var.table_name_prefix))
    error_message = "table_name_prefix must be 1 to 200 characters of [A-Za-z0-9_.-] (DynamoDB table-name rules)."
  }
}

variable "function_package" {
  description = "Deployment package of the notification processor: zip path and its filebase64sha256."
  type = object({
    filename         = string
    source_code_hash = string
  })
}

variable "runtime" {
  description = "Lambda runtime of the notification processor (checked once, by the root module's lambda_runtime)."
  type        = string
}

variable "function_timeout" {
  description = "Timeout of the notification processor in seconds; the queue's visibility timeout is six times this."
  type        = number
  default     = 30

  validation {
    # 6 x 900 s = 5400 s stays within SQS's 12-hour visibility-timeout limit.
    condition     = var.function_timeout >= 1 && var.function_timeout <= 900
    error_message = "function_timeout must be between 1 and 900 seconds."
  }
}

variable "function_memory_size" {
  description = "Memory of the notification processor in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.function_memory_size >= 128 && var.function_memory_size <= 10240
    error_message = "function_memory_size must be between 128 and 10240 MB."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "batch_size" {
  description = "Messages handed to one invocation by the event source mapping."
  type        = number
  default     = 10

  validation {
    # Above 10 SQS requires a batching window > 0; this mapping uses none.
    condition     = var.batch_size >= 1 && var.batch_size <= 10 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number between 1 and 10 (larger batches need a batching window)."
  }
}

variable "claim_sweep_minutes" {
  description = "Minutes between claim sweeps, which finish the deliveries whose claim expired (their invocation ended first)."
  type        = number
  default     = 5

  validation {
    condition     = var.claim_sweep_minutes >= 1 && var.claim_sweep_minutes <= 1440 && floor(var.claim_sweep_minutes) == var.claim_sweep_minutes
    error_message = "claim_sweep_minutes must be a whole number between 1 and 1440."
  }
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

variable "stats_table" {
  description = "The stats table (modules/stats): name and ARN; counters are updated there."
  type = object({
    name = string
    arn  = string
  })
}
