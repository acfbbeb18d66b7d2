output "api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the REST API."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the deployed stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Invoke URL of the stage (https://<api_id>.execute-api.<region>.amazonaws.com/<stage>)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "function_name" {
  description = "Name of the API handler function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the API handler function."
  value       = module.function.function_arn
}

output "log_group_name" {
  description = "Log group of the API handler function."
  value       = module.function.log_group_name
}

output "api_key" {
  description = "With api_auth = \"api_key\": the key to send as x-api-key on write methods (null otherwise)."
  value       = one(aws_api_gateway_api_key.writer[*].value)
  sensitive   = true
}

output "writer_policy_arn" {
  description = "With api_auth = \"iam\": ARN of the policy that lets a caller sign write requests (null otherwise)."
  value       = one(aws_iam_policy.writer[*].arn)
}

output "token_key_secret_arn" {
  description = "ARN of the secret holding the key that signs next_token (its value is in neither plan nor state)."
  value       = aws_secretsmanager_secret.token_key.arn
}
