output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function (unqualified)."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN used by API Gateway to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "dead_letter_queue_url" {
  description = "URL of the function's dead-letter queue (null without var.dead_letter_queue)."
  value       = one(aws_sqs_queue.dead_letter[*].id)
}

output "dead_letter_queue_arn" {
  description = "ARN of the function's dead-letter queue (null without var.dead_letter_queue)."
  value       = one(aws_sqs_queue.dead_letter[*].arn)
}
