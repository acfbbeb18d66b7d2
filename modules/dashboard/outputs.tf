output "function_name" {
  description = "Name of the dashboard function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the dashboard function."
  value       = module.function.function_arn
}

output "log_group_name" {
  description = "Log group of the dashboard function."
  value       = module.function.log_group_name
}
