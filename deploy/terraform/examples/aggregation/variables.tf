variable "region" {
  type    = string
  default = "us-east-1"
}

variable "environment" {
  type    = string
  default = "production"
}

variable "image" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "security_group_ids" {
  type    = list(string)
  default = []
}

variable "db_host" {
  type = string
}

variable "db_name" {
  type = string
}

variable "db_user_secret_arn" {
  type = string
}

variable "db_password_secret_arn" {
  type = string
}

variable "alarm_sns_topic_arn" {
  type = string
}
