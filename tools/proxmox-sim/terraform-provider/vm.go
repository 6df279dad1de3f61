package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The subset of bpg/proxmox's proxmox_virtual_environment_vm: clone, agent, cpu, memory, disk,
// initialization (ip_config, user_account), network_device, started, and the agent-reported
// addresses. Attribute names and meanings follow bpg's documentation.

type vmModel struct {
	ID                    types.String          `tfsdk:"id"`
	VMID                  types.Int64           `tfsdk:"vm_id"`
	Name                  types.String          `tfsdk:"name"`
	Description           types.String          `tfsdk:"description"`
	NodeName              types.String          `tfsdk:"node_name"`
	Started               types.Bool            `tfsdk:"started"`
	IPv4Addresses         types.List            `tfsdk:"ipv4_addresses"`
	MACAddresses          types.List            `tfsdk:"mac_addresses"`
	NetworkInterfaceNames types.List            `tfsdk:"network_interface_names"`
	Clone                 []cloneModel          `tfsdk:"clone"`
	Agent                 []agentModel          `tfsdk:"agent"`
	CPU                   []cpuModel            `tfsdk:"cpu"`
	Memory                []memoryModel         `tfsdk:"memory"`
	Disk                  []diskModel           `tfsdk:"disk"`
	Initialization        []initializationModel `tfsdk:"initialization"`
	NetworkDevice         []networkDeviceModel  `tfsdk:"network_device"`
}

type cloneModel struct {
	VMID        types.Int64  `tfsdk:"vm_id"`
	Full        types.Bool   `tfsdk:"full"`
	DatastoreID types.String `tfsdk:"datastore_id"`
	NodeName    types.String `tfsdk:"node_name"`
}

type agentModel struct {
	Enabled types.Bool   `tfsdk:"enabled"`
	Timeout types.String `tfsdk:"timeout"`
}

type cpuModel struct {
	Cores   types.Int64  `tfsdk:"cores"`
	Sockets types.Int64  `tfsdk:"sockets"`
	Type    types.String `tfsdk:"type"`
}

type memoryModel struct {
	Dedicated types.Int64 `tfsdk:"dedicated"`
}

type diskModel struct {
	DatastoreID types.String `tfsdk:"datastore_id"`
	Interface   types.String `tfsdk:"interface"`
	Size        types.Int64  `tfsdk:"size"`
}

type initializationModel struct {
	DatastoreID types.String       `tfsdk:"datastore_id"`
	IPConfig    []ipConfigModel    `tfsdk:"ip_config"`
	UserAccount []userAccountModel `tfsdk:"user_account"`
}

type ipConfigModel struct {
	IPv4 []ipv4Model `tfsdk:"ipv4"`
}

type ipv4Model struct {
	Address types.String `tfsdk:"address"`
	Gateway types.String `tfsdk:"gateway"`
}

type userAccountModel struct {
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
	Keys     types.List   `tfsdk:"keys"`
}

type networkDeviceModel struct {
	Bridge types.String `tfsdk:"bridge"`
	Model  types.String `tfsdk:"model"`
}

type vmResource struct{ client *client }

var (
	_ resource.Resource                = (*vmResource)(nil)
	_ resource.ResourceWithConfigure   = (*vmResource)(nil)
	_ resource.ResourceWithImportState = (*vmResource)(nil)
)

func newVMResource() resource.Resource { return &vmResource{} }

func (r *vmResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_virtual_environment_vm"
}

func (r *vmResource) Configure(_ context.Context, req resource.ConfigureRequest, _ *resource.ConfigureResponse) {
	if c, ok := req.ProviderData.(*client); ok {
		r.client = c
	}
}

func optionalString() schema.StringAttribute { return schema.StringAttribute{Optional: true} }
func optionalInt() schema.Int64Attribute     { return schema.Int64Attribute{Optional: true} }
func optionalBool() schema.BoolAttribute     { return schema.BoolAttribute{Optional: true} }

func (r *vmResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keepList := []planmodifier.List{listplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"vm_id": schema.Int64Attribute{Optional: true, Computed: true, PlanModifiers: []planmodifier.Int64{
				int64planmodifier.UseStateForUnknown(), int64planmodifier.RequiresReplaceIfConfigured(),
			}},
			"name":                    optionalString(),
			"description":             optionalString(),
			"node_name":               schema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"started":                 schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true)},
			"ipv4_addresses":          schema.ListAttribute{Computed: true, ElementType: types.ListType{ElemType: types.StringType}, PlanModifiers: keepList},
			"mac_addresses":           schema.ListAttribute{Computed: true, ElementType: types.StringType, PlanModifiers: keepList},
			"network_interface_names": schema.ListAttribute{Computed: true, ElementType: types.StringType, PlanModifiers: keepList},
		},
		Blocks: map[string]schema.Block{
			"clone": schema.ListNestedBlock{
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"vm_id":        schema.Int64Attribute{Required: true},
					"full":         optionalBool(),
					"datastore_id": optionalString(),
					"node_name":    optionalString(),
				}},
			},
			"agent": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
				"enabled": optionalBool(),
				"timeout": optionalString(),
			}}},
			"cpu": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
				"cores":   optionalInt(),
				"sockets": optionalInt(),
				"type":    optionalString(),
			}}},
			"memory": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
				"dedicated": optionalInt(),
			}}},
			"disk": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
				"datastore_id": optionalString(),
				"interface":    schema.StringAttribute{Required: true},
				"size":         optionalInt(),
			}}},
			"initialization": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{
				Attributes: map[string]schema.Attribute{"datastore_id": optionalString()},
				Blocks: map[string]schema.Block{
					"ip_config": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Blocks: map[string]schema.Block{
						"ipv4": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
							"address": optionalString(),
							"gateway": optionalString(),
						}}},
					}}},
					"user_account": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
						"username": optionalString(),
						"password": schema.StringAttribute{Optional: true, Sensitive: true},
						"keys":     schema.ListAttribute{Optional: true, ElementType: types.StringType},
					}}},
				},
			}},
			"network_device": schema.ListNestedBlock{NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
				"bridge": optionalString(),
				"model":  optionalString(),
			}}},
		},
	}
}

func (r *vmResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	node, id, ok := strings.Cut(req.ID, "/")
	vmid, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil {
		resp.Diagnostics.AddError("bad import id", "expected <node_name>/<vm_id>, e.g. pve/100")
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("node_name"), node)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vm_id"), vmid)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}

func (m *vmModel) node() string { return m.NodeName.ValueString() }
func (m *vmModel) base() string {
	return fmt.Sprintf("/nodes/%s/qemu/%d", m.node(), m.VMID.ValueInt64())
}

// configParams is what PUT config receives for the configured attributes.
func (m *vmModel) configParams(current map[string]any) url.Values {
	params := url.Values{}
	if !m.Name.IsNull() {
		params.Set("name", m.Name.ValueString())
	}
	if !m.Description.IsNull() {
		params.Set("description", m.Description.ValueString())
	}
	for _, cpu := range m.CPU {
		setInt(params, "cores", cpu.Cores)
		setInt(params, "sockets", cpu.Sockets)
		if !cpu.Type.IsNull() {
			params.Set("cpu", cpu.Type.ValueString())
		}
	}
	for _, memory := range m.Memory {
		setInt(params, "memory", memory.Dedicated)
	}
	for _, agent := range m.Agent {
		if agent.Enabled.ValueBool() {
			params.Set("agent", "1")
		} else {
			params.Set("agent", "0")
		}
	}
	for _, init := range m.Initialization {
		for i, ipConfig := range init.IPConfig {
			for _, ipv4 := range ipConfig.IPv4 {
				value := "ip=" + valueOrDefault(ipv4.Address, "dhcp")
				if !ipv4.Gateway.IsNull() && ipv4.Gateway.ValueString() != "" {
					value += ",gw=" + ipv4.Gateway.ValueString()
				}
				params.Set(fmt.Sprintf("ipconfig%d", i), value)
			}
		}
		for _, account := range init.UserAccount {
			if !account.Username.IsNull() {
				params.Set("ciuser", account.Username.ValueString())
			}
			if !account.Password.IsNull() {
				params.Set("cipassword", account.Password.ValueString())
			}
			if !account.Keys.IsNull() {
				var keys []string
				for _, key := range account.Keys.Elements() {
					keys = append(keys, strings.TrimSpace(key.(types.String).ValueString()))
				}
				// PVE wants sshkeys URL-encoded inside the (itself encoded) body.
				params.Set("sshkeys", strings.ReplaceAll(url.QueryEscape(strings.Join(keys, "\n")), "+", "%20"))
			}
		}
	}
	for i, device := range m.NetworkDevice {
		key := fmt.Sprintf("net%d", i)
		model := valueOrDefault(device.Model, "virtio")
		mac := ""
		if existing, ok := current[key].(string); ok {
			if match := macPattern.FindStringSubmatch(existing); match != nil {
				mac = "=" + match[1]
			}
		}
		params.Set(key, fmt.Sprintf("%s%s,bridge=%s", model, mac, valueOrDefault(device.Bridge, "vmbr0")))
	}
	return params
}

var macPattern = regexp.MustCompile(`^[a-z0-9]+=([0-9A-Fa-f:]{17})`)

func setInt(params url.Values, key string, value types.Int64) {
	if !value.IsNull() && !value.IsUnknown() {
		params.Set(key, strconv.FormatInt(value.ValueInt64(), 10))
	}
}

func valueOrDefault(value types.String, fallback string) string {
	if value.IsNull() || value.IsUnknown() || value.ValueString() == "" {
		return fallback
	}
	return value.ValueString()
}

func (r *vmResource) config(ctx context.Context, m *vmModel) (map[string]any, error) {
	var config map[string]any
	err := r.client.do(ctx, http.MethodGet, m.base()+"/config", nil, &config)
	return config, err
}

func (r *vmResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan vmModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if len(plan.Clone) != 1 {
		resp.Diagnostics.AddError("clone required", "this provider creates VMs by cloning a template: give exactly one clone block")
		return
	}
	if plan.VMID.IsNull() || plan.VMID.IsUnknown() {
		var next any // PVE answers a string; accept a number too
		if err := r.client.do(ctx, http.MethodGet, "/cluster/nextid", nil, &next); err != nil {
			resp.Diagnostics.AddError("cannot allocate a VM id", err.Error())
			return
		}
		id, _ := strconv.ParseInt(stringOf(next), 10, 64)
		plan.VMID = types.Int64Value(id)
	}
	clone := plan.Clone[0]
	source := valueOrDefault(clone.NodeName, plan.node())
	params := url.Values{"newid": {strconv.FormatInt(plan.VMID.ValueInt64(), 10)}}
	if !plan.Name.IsNull() {
		params.Set("name", plan.Name.ValueString())
	}
	full := clone.Full.IsNull() || clone.Full.ValueBool()
	if full {
		params.Set("full", "1")
		if !clone.DatastoreID.IsNull() {
			params.Set("storage", clone.DatastoreID.ValueString())
		}
	} else {
		params.Set("full", "0")
	}
	if source != plan.node() {
		params.Set("target", plan.node())
	}
	if err := r.client.task(ctx, source, http.MethodPost, fmt.Sprintf("/nodes/%s/qemu/%d/clone", source, clone.VMID.ValueInt64()), params); err != nil {
		resp.Diagnostics.AddError("clone failed", err.Error())
		return
	}
	plan.ID = types.StringValue(strconv.FormatInt(plan.VMID.ValueInt64(), 10))
	// From here on the VM exists: save it to state even if a later step fails (it becomes tainted).
	defer func() { resp.Diagnostics.Append(resp.State.Set(ctx, plan.normalized())...) }()
	if err := r.apply(ctx, &plan, nil, false); err != nil {
		resp.Diagnostics.AddError("configuring the VM failed", err.Error())
		plan.setAddresses(nil)
		return
	}
}

// apply brings the VM's config, disks and power state to the plan.
func (r *vmResource) apply(ctx context.Context, plan *vmModel, prior *vmModel, wasRunning bool) error {
	current, err := r.config(ctx, plan)
	if err != nil {
		return err
	}
	if params := plan.configParams(current); len(params) > 0 {
		if err := r.client.do(ctx, http.MethodPut, plan.base()+"/config", params, nil); err != nil {
			return err
		}
	}
	for _, disk := range plan.Disk {
		if disk.Size.IsNull() {
			continue
		}
		size := currentDiskSize(current, disk.Interface.ValueString())
		if size == disk.Size.ValueInt64() {
			continue
		}
		if size > disk.Size.ValueInt64() {
			return fmt.Errorf("disk %s: shrinking from %dG to %dG is not supported", disk.Interface.ValueString(), size, disk.Size.ValueInt64())
		}
		params := url.Values{"disk": {disk.Interface.ValueString()}, "size": {fmt.Sprintf("%dG", disk.Size.ValueInt64())}}
		if err := r.client.task(ctx, plan.node(), http.MethodPut, plan.base()+"/resize", params); err != nil {
			return err
		}
	}
	if plan.Started.ValueBool() && !wasRunning {
		if err := r.client.task(ctx, plan.node(), http.MethodPost, plan.base()+"/status/start", url.Values{}); err != nil {
			return err
		}
	} else if !plan.Started.ValueBool() && wasRunning {
		if err := r.client.task(ctx, plan.node(), http.MethodPost, plan.base()+"/status/stop", url.Values{}); err != nil {
			return err
		}
	}
	if plan.Started.ValueBool() && plan.agentEnabled() {
		interfaces, err := r.waitForAgent(ctx, plan)
		if err != nil {
			return err
		}
		plan.setAddresses(interfaces)
	} else {
		plan.setAddresses(nil)
	}
	return nil
}

var sizePattern = regexp.MustCompile(`size=(\d+)([KMGT]?)`)

func currentDiskSize(config map[string]any, key string) int64 {
	value, _ := config[key].(string)
	match := sizePattern.FindStringSubmatch(value)
	if match == nil {
		return 0
	}
	n, _ := strconv.ParseInt(match[1], 10, 64)
	switch match[2] {
	case "T":
		return n * 1024
	case "M":
		return n / 1024
	case "K":
		return n / (1024 * 1024)
	}
	return n
}

func (m *vmModel) agentEnabled() bool {
	for _, agent := range m.Agent {
		return agent.Enabled.ValueBool()
	}
	return false
}

func (m *vmModel) agentTimeout() time.Duration {
	for _, agent := range m.Agent {
		if d, err := time.ParseDuration(valueOrDefault(agent.Timeout, "15m")); err == nil {
			return d
		}
	}
	return 15 * time.Minute
}

type agentInterface struct {
	Name            string `json:"name"`
	HardwareAddress string `json:"hardware-address"`
	IPAddresses     []struct {
		Address string `json:"ip-address"`
		Type    string `json:"ip-address-type"`
	} `json:"ip-addresses"`
}

func (r *vmResource) interfaces(ctx context.Context, m *vmModel) ([]agentInterface, error) {
	var answer struct {
		Result []agentInterface `json:"result"`
	}
	err := r.client.do(ctx, http.MethodGet, m.base()+"/agent/network-get-interfaces", nil, &answer)
	return answer.Result, err
}

// waitForAgent polls the guest agent until it reports an IPv4 address besides loopback, as bpg does.
func (r *vmResource) waitForAgent(ctx context.Context, m *vmModel) ([]agentInterface, error) {
	deadline := time.Now().Add(m.agentTimeout())
	for {
		interfaces, err := r.interfaces(ctx, m)
		if err == nil {
			for _, iface := range interfaces {
				for _, address := range iface.IPAddresses {
					if address.Type == "ipv4" && !strings.HasPrefix(address.Address, "127.") {
						return interfaces, nil
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the QEMU guest agent reported no address within %s", m.agentTimeout())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (m *vmModel) setAddresses(interfaces []agentInterface) {
	ipv4 := []attr.Value{}
	macs := []attr.Value{}
	names := []attr.Value{}
	for _, iface := range interfaces {
		var addresses []attr.Value
		for _, address := range iface.IPAddresses {
			if address.Type == "ipv4" {
				addresses = append(addresses, types.StringValue(address.Address))
			}
		}
		ipv4 = append(ipv4, types.ListValueMust(types.StringType, append([]attr.Value{}, addresses...)))
		macs = append(macs, types.StringValue(iface.HardwareAddress))
		names = append(names, types.StringValue(iface.Name))
	}
	m.IPv4Addresses = types.ListValueMust(types.ListType{ElemType: types.StringType}, ipv4)
	m.MACAddresses = types.ListValueMust(types.StringType, macs)
	m.NetworkInterfaceNames = types.ListValueMust(types.StringType, names)
}

// normalized turns absent blocks into empty lists, which is how Terraform represents them.
func (m *vmModel) normalized() *vmModel {
	out := *m
	if out.Clone == nil {
		out.Clone = []cloneModel{}
	}
	if out.Agent == nil {
		out.Agent = []agentModel{}
	}
	if out.CPU == nil {
		out.CPU = []cpuModel{}
	}
	if out.Memory == nil {
		out.Memory = []memoryModel{}
	}
	if out.Disk == nil {
		out.Disk = []diskModel{}
	}
	if out.Initialization == nil {
		out.Initialization = []initializationModel{}
	}
	for i := range out.Initialization {
		if out.Initialization[i].IPConfig == nil {
			out.Initialization[i].IPConfig = []ipConfigModel{}
		}
		for j := range out.Initialization[i].IPConfig {
			if out.Initialization[i].IPConfig[j].IPv4 == nil {
				out.Initialization[i].IPConfig[j].IPv4 = []ipv4Model{}
			}
		}
		if out.Initialization[i].UserAccount == nil {
			out.Initialization[i].UserAccount = []userAccountModel{}
		}
	}
	if out.NetworkDevice == nil {
		out.NetworkDevice = []networkDeviceModel{}
	}
	if out.IPv4Addresses.IsUnknown() || out.MACAddresses.IsUnknown() || out.NetworkInterfaceNames.IsUnknown() {
		out.setAddresses(nil)
	}
	return &out
}

func (r *vmResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state vmModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	config, err := r.config(ctx, &state)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.notFound() {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("reading the VM failed", err.Error())
		return
	}
	var status struct {
		Status string `json:"status"`
	}
	if err := r.client.do(ctx, http.MethodGet, state.base()+"/status/current", nil, &status); err != nil {
		resp.Diagnostics.AddError("reading the VM's status failed", err.Error())
		return
	}
	// Only what the configuration manages is refreshed, so a change made behind Terraform's back
	// shows up in the next plan (drift) and nothing else does.
	if !state.Name.IsNull() {
		state.Name = types.StringValue(stringOf(config["name"]))
	}
	if !state.Description.IsNull() {
		state.Description = types.StringValue(stringOf(config["description"]))
	}
	for i := range state.CPU {
		refreshInt(&state.CPU[i].Cores, config["cores"])
		refreshInt(&state.CPU[i].Sockets, config["sockets"])
		if !state.CPU[i].Type.IsNull() {
			state.CPU[i].Type = types.StringValue(stringOf(config["cpu"]))
		}
	}
	for i := range state.Memory {
		refreshInt(&state.Memory[i].Dedicated, config["memory"])
	}
	for i := range state.Disk {
		if !state.Disk[i].Size.IsNull() {
			state.Disk[i].Size = types.Int64Value(currentDiskSize(config, state.Disk[i].Interface.ValueString()))
		}
	}
	for i := range state.Agent {
		if !state.Agent[i].Enabled.IsNull() {
			state.Agent[i].Enabled = types.BoolValue(strings.HasPrefix(stringOf(config["agent"]), "1") || strings.Contains(stringOf(config["agent"]), "enabled=1"))
		}
	}
	for i := range state.Initialization {
		for j := range state.Initialization[i].UserAccount {
			if !state.Initialization[i].UserAccount[j].Username.IsNull() {
				state.Initialization[i].UserAccount[j].Username = types.StringValue(stringOf(config["ciuser"]))
			}
		}
	}
	running := status.Status == "running"
	state.Started = types.BoolValue(running)
	if running && state.agentEnabled() {
		if interfaces, err := r.interfaces(ctx, &state); err == nil {
			state.setAddresses(interfaces)
		}
	} else {
		state.setAddresses(nil)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state.normalized())...)
}

func stringOf(value any) string {
	switch v := value.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatInt(int64(v), 10)
	case nil:
		return ""
	}
	return fmt.Sprint(value)
}

func refreshInt(target *types.Int64, value any) {
	if target.IsNull() {
		return
	}
	if n, err := strconv.ParseInt(stringOf(value), 10, 64); err == nil {
		*target = types.Int64Value(n)
	}
}

func (r *vmResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior vmModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.VMID = prior.VMID
	plan.ID = prior.ID
	var status struct {
		Status string `json:"status"`
	}
	if err := r.client.do(ctx, http.MethodGet, plan.base()+"/status/current", nil, &status); err != nil {
		resp.Diagnostics.AddError("reading the VM's status failed", err.Error())
		return
	}
	if err := r.apply(ctx, &plan, &prior, status.Status == "running"); err != nil {
		resp.Diagnostics.AddError("updating the VM failed", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, plan.normalized())...)
}

func (r *vmResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state vmModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var status struct {
		Status string `json:"status"`
	}
	err := r.client.do(ctx, http.MethodGet, state.base()+"/status/current", nil, &status)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.notFound() {
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("reading the VM's status failed", err.Error())
		return
	}
	if status.Status == "running" {
		if err := r.client.task(ctx, state.node(), http.MethodPost, state.base()+"/status/stop", url.Values{}); err != nil {
			resp.Diagnostics.AddError("stopping the VM failed", err.Error())
			return
		}
	}
	params := url.Values{"purge": {"1"}, "destroy-unreferenced-disks": {"1"}}
	if err := r.client.task(ctx, state.node(), http.MethodDelete, state.base(), params); err != nil {
		resp.Diagnostics.AddError("destroying the VM failed", err.Error())
	}
}
