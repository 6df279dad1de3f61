// Command terraform-provider-proxmox is test scaffolding: a small Terraform provider that speaks
// to Keelson's Proxmox API simulator and implements the subset of bpg/proxmox's
// `proxmox_virtual_environment_vm` resource that the modules in infra/terraform use. Tests install
// it under bpg/proxmox's own source address (a filesystem mirror), so the modules are the same
// ones production runs with the real provider. It is not shipped and not meant for real clusters.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

func main() {
	err := providerserver.Serve(context.Background(), newProvider, providerserver.ServeOpts{
		Address: "registry.opentofu.org/bpg/proxmox",
	})
	if err != nil {
		log.Fatal(err)
	}
}
