output "vm_id" {
  value = proxmox_virtual_environment_vm.this.vm_id
}

output "name" {
  value = proxmox_virtual_environment_vm.this.name
}

output "node_name" {
  value = proxmox_virtual_environment_vm.this.node_name
}

output "ipv4_address" {
  description = "The first address the guest agent reports besides loopback (null while stopped)."
  value = try([
    for address in flatten(proxmox_virtual_environment_vm.this.ipv4_addresses) : address if !startswith(address, "127.")
  ][0], null)
}
