variable "name_prefix" {
  description = "Lowercase prefix of topic, queue and function names (<prefix>-notifications, <prefix>-notification-processor, ...). Checked once, by the root module's prefix."
  type        = string
}

variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>NotificationHistory), for example Roxs. Derived from the root module's checked prefix."
  type        = string
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
  description = "Timeout of the notification processor in seconds (1 to 900, checked by modules/lambda_function); the queue's visibility timeout is six times this, within SQS's 12-hour limit."
  type        = number
  default     = 30
}

variable "function_memory_size" {
  description = "Memory of the notification processor in MB."
  type        = number
  default     = 256
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue. Checked once, by the root module's notifications_max_receive_count."
  type        = number
}

variable "batch_size" {
  description = "Messages handed to one invocation by the event source mapping. Checked once, by the root module's notifications_batch_size."
  type        = number
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
