terraform {
  # 1.9: variable validations that read the shared limits file (local.limits)
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 6.0"
    }
  }
}
