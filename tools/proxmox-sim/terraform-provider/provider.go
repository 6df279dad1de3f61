package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type proxmoxProvider struct{}

func newProvider() provider.Provider { return &proxmoxProvider{} }

// providerModel is the part of bpg's provider block this provider reads; like bpg it falls back
// to PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN and PROXMOX_VE_INSECURE.
type providerModel struct {
	Endpoint types.String `tfsdk:"endpoint"`
	APIToken types.String `tfsdk:"api_token"`
	Insecure types.Bool   `tfsdk:"insecure"`
}

func (p *proxmoxProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "proxmox"
}

func (p *proxmoxProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Test scaffolding: bpg/proxmox's VM resource, in part, against Keelson's Proxmox simulator.",
		Attributes: map[string]schema.Attribute{
			"endpoint":  schema.StringAttribute{Optional: true},
			"api_token": schema.StringAttribute{Optional: true, Sensitive: true},
			"insecure":  schema.BoolAttribute{Optional: true},
		},
	}
}

func (p *proxmoxProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	endpoint := valueOr(config.Endpoint, os.Getenv("PROXMOX_VE_ENDPOINT"))
	token := valueOr(config.APIToken, os.Getenv("PROXMOX_VE_API_TOKEN"))
	insecure := os.Getenv("PROXMOX_VE_INSECURE") == "true"
	if !config.Insecure.IsNull() && !config.Insecure.IsUnknown() {
		insecure = config.Insecure.ValueBool()
	}
	if endpoint == "" || token == "" {
		resp.Diagnostics.AddError("missing Proxmox credentials", "set endpoint and api_token (or PROXMOX_VE_ENDPOINT and PROXMOX_VE_API_TOKEN)")
		return
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	c := &client{
		base:  strings.TrimSuffix(endpoint, "/") + "/api2/json",
		token: token,
		http:  &http.Client{Transport: transport, Timeout: 60 * time.Second},
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

func valueOr(value types.String, fallback string) string {
	if value.IsNull() || value.IsUnknown() || value.ValueString() == "" {
		return fallback
	}
	return value.ValueString()
}

func (p *proxmoxProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{newVMResource}
}

func (p *proxmoxProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return nil
}
