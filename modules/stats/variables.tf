variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>Stats), for example Roxs. Derived from the root module's checked prefix."
  type        = string
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
