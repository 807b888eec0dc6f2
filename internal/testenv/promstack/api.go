/*
Copyright 2026 The kubevirt-wol Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package promstack

// Prometheus's HTTP API, read through the network namespace it runs in.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

func (s *Server) do(ctx context.Context, method, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}

// Sync writes the operator's current configuration and rule files (Write)
// and has Prometheus reload them (POST /-/reload, as the config-reloader
// does); it fails if Prometheus refuses them.
func (s *Server) Sync(ctx context.Context) error {
	if err := s.Write(ctx); err != nil {
		return err
	}
	code, body, err := s.do(ctx, http.MethodPost, "/-/reload")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("prometheus %s/%s refused the reload: HTTP %d: %s", s.Namespace, s.Name, code, body)
	}
	return nil
}

// URL is Prometheus's base URL in its network namespace.
func (s *Server) URL() string { return s.base }

// API is a client of Prometheus's HTTP API.
func (s *Server) API() promv1.API { return s.api }

// Query runs an instant PromQL query now and returns its vector (a scalar
// comes back as a vector of one sample without labels).
func (s *Server) Query(ctx context.Context, promql string) (model.Vector, error) {
	v, _, _, err := s.api.Query(ctx, promql, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", promql, err)
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Value: v.Value, Timestamp: v.Timestamp}}, nil
	default:
		return nil, fmt.Errorf("%s: a %s, not a vector", promql, v.Type())
	}
}

// Value runs a query expected to return exactly one sample and returns its
// value.
func (s *Server) Value(ctx context.Context, promql string) (float64, error) {
	v, err := s.Query(ctx, promql)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s: %d samples, not 1: %s", promql, len(v), v)
	}
	return float64(v[0].Value), nil
}

// Targets returns the active targets of the scrape pools whose name starts
// with poolPrefix (all if "").
func (s *Server) Targets(ctx context.Context, poolPrefix string) ([]promv1.ActiveTarget, error) {
	res, err := s.api.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var out []promv1.ActiveTarget
	for _, t := range res.Active {
		if strings.HasPrefix(t.ScrapePool, poolPrefix) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Rules returns the rule groups Prometheus has loaded.
func (s *Server) Rules(ctx context.Context) ([]promv1.RuleGroup, error) {
	res, err := s.api.Rules(ctx, nil)
	if err != nil {
		return nil, err
	}
	return res.Groups, nil
}
