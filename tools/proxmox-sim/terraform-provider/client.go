package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client calls PVE's api2/json with an API token, as bpg's provider does. TLS trust is Go's
// default (SSL_CERT_FILE names the simulator's CA in tests) unless `insecure` is set.
type client struct {
	base  string
	token string
	http  *http.Client
}

type apiError struct {
	Status int
	Reason string
	Body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("proxmox API: %d %s %s", e.Status, e.Reason, strings.TrimSpace(e.Body))
}

func (e *apiError) notFound() bool {
	return strings.Contains(e.Reason, "does not exist") || strings.Contains(e.Body, "does not exist")
}

func (c *client) do(ctx context.Context, method, path string, params url.Values, out any) error {
	target := c.base + path
	var body io.Reader
	if params != nil && (method == http.MethodGet || method == http.MethodDelete) {
		target += "?" + params.Encode()
	} else if params != nil {
		body = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "PVEAPIToken="+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		// PVE puts the message in the reason phrase.
		reason := strings.TrimPrefix(res.Status, fmt.Sprintf("%d ", res.StatusCode))
		return &apiError{Status: res.StatusCode, Reason: reason, Body: string(raw)}
	}
	if out == nil {
		return nil
	}
	envelope := struct {
		Data json.RawMessage `json:"data"`
	}{}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return fmt.Errorf("proxmox API: %s %s: %w", method, path, err)
	}
	return json.Unmarshal(envelope.Data, out)
}

// task starts an asynchronous call (its answer is a UPID) and waits for the task to end.
func (c *client) task(ctx context.Context, node, method, path string, params url.Values) error {
	var upid string
	if err := c.do(ctx, method, path, params, &upid); err != nil {
		return err
	}
	return c.waitTask(ctx, node, upid)
}

func (c *client) waitTask(ctx context.Context, node, upid string) error {
	if upid == "" {
		return nil
	}
	for {
		var status struct {
			Status     string `json:"status"`
			ExitStatus string `json:"exitstatus"`
		}
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/nodes/%s/tasks/%s/status", node, url.PathEscape(upid)), nil, &status); err != nil {
			return err
		}
		if status.Status == "stopped" {
			if status.ExitStatus != "OK" {
				return fmt.Errorf("task %s failed: %s", upid, status.ExitStatus)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
