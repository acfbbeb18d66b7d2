output "table" {
  description = "Name and ARN of the stats table (counters kept at write time)."
  value       = { name = aws_dynamodb_table.stats.name, arn = aws_dynamodb_table.stats.arn }
}
