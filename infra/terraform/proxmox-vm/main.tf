# A Proxmox VE VM cloned from a cloud-init template, written for the bpg/proxmox provider.
# A root module: Keelson runs it as a stack with state in Postgres (the pg backend, one schema per
# stack) and the provider configured from the environment (PROXMOX_VE_ENDPOINT,
# PROXMOX_VE_API_TOKEN), so no credential is written in a file.

terraform {
  required_version = ">= 1.6"
  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = ">= 0.66.0"
    }
  }
  backend "pg" {}
}

provider "proxmox" {}

resource "proxmox_virtual_environment_vm" "this" {
  name        = var.name
  description = var.description
  node_name   = var.node_name
  vm_id       = var.vm_id
  started     = var.started

  clone {
    vm_id = var.template_vm_id
    full  = true
  }

  agent {
    enabled = true
    timeout = var.agent_timeout
  }

  cpu {
    cores = var.cores
  }

  memory {
    dedicated = var.memory_mb
  }

  disk {
    datastore_id = var.datastore_id
    interface    = "scsi0"
    size         = var.disk_gib
  }

  network_device {
    bridge = var.bridge
  }

  initialization {
    datastore_id = var.datastore_id
    ip_config {
      ipv4 {
        address = var.ipv4_address
        gateway = var.ipv4_gateway
      }
    }
    user_account {
      username = var.username
      password = var.password
      keys     = var.ssh_public_keys
    }
  }
}
