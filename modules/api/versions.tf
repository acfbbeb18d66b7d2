terraform {
  # 1.11: the token key is ephemeral and written write-only (secret_string_wo).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 6.0"
    }
  }
}
