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

package listenerapp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
)

// scriptedReviewer answers reviews from fixed tables and counts them. The
// filter's decisions against a real API server (TokenReview, RBAC) are
// tested in app_test.go; this covers what that cannot reach cheaply: the
// cache, its expiry, and failures of the reviews.
type scriptedReviewer struct {
	users   map[string]authnv1.UserInfo // token -> user
	allowed map[string]bool             // username -> may get /metrics
	fail    error
	tokens  int
	access  []authzv1.SubjectAccessReviewSpec
}

func (s *scriptedReviewer) reviewToken(_ context.Context, token string) (*authnv1.TokenReview, error) {
	s.tokens++
	if s.fail != nil {
		return nil, s.fail
	}
	u, ok := s.users[token]
	return &authnv1.TokenReview{Status: authnv1.TokenReviewStatus{Authenticated: ok, User: u}}, nil
}

func (s *scriptedReviewer) reviewAccess(_ context.Context, sar *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error) {
	s.access = append(s.access, sar.Spec)
	a := sar.Spec.NonResourceAttributes
	ok := s.allowed[sar.Spec.User] && a != nil && a.Path == "/metrics" && a.Verb == "get"
	return &authzv1.SubjectAccessReview{Status: authzv1.SubjectAccessReviewStatus{Allowed: ok}}, nil
}

func TestMetricsAuth(t *testing.T) {
	rev := &scriptedReviewer{
		users: map[string]authnv1.UserInfo{
			"scraper-token": {Username: "system:serviceaccount:monitoring:prometheus", UID: "u1",
				Groups: []string{"system:serviceaccounts"}, Extra: map[string]authnv1.ExtraValue{"k": {"v"}}},
			"nobody-token": {Username: "nobody"},
		},
		allowed: map[string]bool{"system:serviceaccount:monitoring:prometheus": true},
	}
	now := time.Unix(1000, 0)
	m := newMetricsAuth(rev, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("wol_packets_total 1"))
	}), logr.Discard())
	m.now = func() time.Time { return now }

	get := func(path, auth string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK && rec.Body.String() != "wol_packets_total 1" {
			t.Fatalf("200 without the metrics: %q", rec.Body.String())
		}
		return rec.Code
	}

	for _, tc := range []struct {
		name, path, auth string
		want             int
	}{
		{"no header", "/metrics", "", http.StatusUnauthorized},
		{"not a bearer token", "/metrics", "Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"empty bearer token", "/metrics", "Bearer ", http.StatusUnauthorized},
		{"unknown token", "/metrics", "Bearer forged", http.StatusUnauthorized},
		{"authenticated, not authorized", "/metrics", "Bearer nobody-token", http.StatusForbidden},
		{"authorized", "/metrics", "Bearer scraper-token", http.StatusOK},
		{"scheme is case-insensitive", "/metrics", "bearer scraper-token", http.StatusOK},
		{"authorized for /metrics only", "/metrics/extra", "Bearer scraper-token", http.StatusForbidden},
	} {
		if got := get(tc.path, tc.auth); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
	if rev.tokens != 4 {
		t.Errorf("token reviews = %d, want 4 (none without a token, one per new token and path)", rev.tokens)
	}
	// The review carries the whole identity.
	first := rev.access[1]
	if first.UID != "u1" || len(first.Groups) != 1 || first.Extra["k"][0] != "v" {
		t.Errorf("access review lost part of the identity: %+v", first)
	}

	// Cached: no new review within the TTLs...
	rev.tokens = 0
	get("/metrics", "Bearer scraper-token")
	get("/metrics", "Bearer nobody-token")
	if rev.tokens != 0 {
		t.Errorf("token reviews within the TTL = %d, want 0", rev.tokens)
	}
	// ...a refusal is asked again after authDenyTTL, so a new grant takes
	// effect; a grant after authAllowTTL, so a revocation does.
	rev.allowed["nobody"] = true
	now = now.Add(authDenyTTL + time.Second)
	if got := get("/metrics", "Bearer nobody-token"); got != http.StatusOK {
		t.Errorf("after a new grant and the deny TTL: %d, want 200", got)
	}
	delete(rev.allowed, "system:serviceaccount:monitoring:prometheus")
	if got := get("/metrics", "Bearer scraper-token"); got != http.StatusOK {
		t.Errorf("a grant within its TTL: %d, want 200 (cached)", got)
	}
	now = now.Add(authAllowTTL)
	if got := get("/metrics", "Bearer scraper-token"); got != http.StatusForbidden {
		t.Errorf("after a revocation and the allow TTL: %d, want 403", got)
	}

	// A failed review is a 500 and is not cached.
	rev.fail = errors.New("connection refused")
	if got := get("/metrics", "Bearer another"); got != http.StatusInternalServerError {
		t.Errorf("failed review: %d, want 500", got)
	}
	rev.fail, rev.tokens = nil, 0
	if got := get("/metrics", "Bearer another"); got != http.StatusUnauthorized || rev.tokens != 1 {
		t.Errorf("after a failed review: %d with %d reviews, want 401 with 1", got, rev.tokens)
	}

	// The cache stays bounded whatever the LAN sends.
	for i := range 3 * authCacheMax {
		get("/metrics", "Bearer junk-"+string(rune('a'+i%26))+time.Duration(i).String())
	}
	if n := len(m.cache); n > authCacheMax {
		t.Errorf("cache holds %d decisions, more than %d", n, authCacheMax)
	}
}
