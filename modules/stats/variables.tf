variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>Stats), for example Roxs."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,200}$", var.table_name_prefix))
    error_message = "table_name_prefix must be 1 to 200 characters of [A-Za-z0-9_.-] (DynamoDB table-name rules)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
