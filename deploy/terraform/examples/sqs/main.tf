# The seed document's recommended setup, worker_mode = "sqs" (0..5 tasks).
# "For Event-Driven Only": no task while the queue is empty, up to five for bursts.
#   terraform init && terraform plan -var-file=../production.tfvars.example
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}

module "ml_worker" {
  source = "../../ml_worker"

  environment  = var.environment
  worker_mode  = "sqs"
  min_capacity = 0
  max_capacity = 5

  image                  = var.image
  vpc_id                 = var.vpc_id
  subnet_ids             = var.subnet_ids
  security_group_ids     = var.security_group_ids
  db_host                = var.db_host
  db_name                = var.db_name
  db_user_secret_arn     = var.db_user_secret_arn
  db_password_secret_arn = var.db_password_secret_arn
  alarm_sns_topic_arn    = var.alarm_sns_topic_arn
}

output "queue_url" {
  value = module.ml_worker.queue_url
}

output "service_name" {
  value = module.ml_worker.service_name
}
