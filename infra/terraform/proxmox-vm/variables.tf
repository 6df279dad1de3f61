variable "name" {
  type        = string
  description = "The VM's name (a DNS label)."
}

variable "description" {
  type    = string
  default = "Managed by Keelson through Terraform"
}

variable "node_name" {
  type        = string
  default     = "pve"
  description = "The Proxmox node the VM runs on."
}

variable "vm_id" {
  type        = number
  default     = null
  description = "The VM id; the cluster's next free id when null."
}

variable "template_vm_id" {
  type        = number
  default     = 9000
  description = "The cloud-init template to clone."
}

variable "cores" {
  type    = number
  default = 2
}

variable "memory_mb" {
  type    = number
  default = 2048
}

variable "disk_gib" {
  type        = number
  default     = 8
  description = "Size of scsi0; disks only grow."
}

variable "datastore_id" {
  type    = string
  default = "local-lvm"
}

variable "bridge" {
  type    = string
  default = "vmbr0"
}

variable "ipv4_address" {
  type        = string
  default     = "dhcp"
  description = "\"dhcp\" or an address in CIDR form."
}

variable "ipv4_gateway" {
  type    = string
  default = null
}

variable "username" {
  type    = string
  default = "debian"
}

variable "password" {
  type        = string
  default     = null
  sensitive   = true
  description = "The cloud-init user's password."
}

variable "ssh_public_keys" {
  type    = list(string)
  default = []
}

variable "started" {
  type    = bool
  default = true
}

variable "agent_timeout" {
  type        = string
  default     = "15m"
  description = "How long to wait for the guest agent to report an address."
}
