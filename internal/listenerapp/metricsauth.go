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
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
)

// Decisions of the metrics filter are kept this long, so that a scraper
// costs the API server two reviews per minute at most, not two per scrape;
// a refusal is kept for less, so that a new grant takes effect quickly.
const (
	authAllowTTL = time.Minute
	authDenyTTL  = 5 * time.Second
	// authCacheMax bounds the cache: tokens sent from the LAN are not
	// trusted to be few. A full cache is emptied.
	authCacheMax = 256
	// authReviewTimeout bounds the reviews of one request.
	authReviewTimeout = 10 * time.Second
)

// reviewer is what the metrics filter asks the API server (kubeAPI).
type reviewer interface {
	reviewToken(ctx context.Context, token string) (*authnv1.TokenReview, error)
	reviewAccess(ctx context.Context, sar *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error)
}

// metricsAuth serves next only to callers whose bearer token the API server
// authenticates (TokenReview) and whose user it authorizes for the request's
// verb on its path (a SubjectAccessReview of the non-resource URL, such as
// "get /metrics") — the check kube-rbac-proxy and controller-runtime's
// metrics filter make. A request without a token gets 401 without any API
// call; a token the API server rejects, 401; a user without the grant,
// 403; a failed review, 500 (and is not cached).
//
// The listener implements it here rather than with controller-runtime's
// filter because that one links k8s.io/apiserver and CEL into the binary,
// which costs the listener more resident memory than its VM index.
type metricsAuth struct {
	api  reviewer
	next http.Handler
	log  logr.Logger
	now  func() time.Time

	mu    sync.Mutex
	cache map[authKey]authDecision
}

type authKey struct {
	token [sha256.Size]byte
	verb  string
	path  string
}

type authDecision struct {
	code    int // http.StatusOK, StatusUnauthorized or StatusForbidden
	expires time.Time
}

func newMetricsAuth(api reviewer, next http.Handler, log logr.Logger) *metricsAuth {
	return &metricsAuth{api: api, next: next, log: log, now: time.Now, cache: make(map[authKey]authDecision)}
}

// ServeHTTP implements http.Handler.
func (m *metricsAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := bearerToken(r)
	if !ok {
		http.Error(w, "Unauthorized: a bearer token is required", http.StatusUnauthorized)
		return
	}
	key := authKey{token: sha256.Sum256([]byte(token)), verb: strings.ToLower(r.Method), path: r.URL.Path}
	code, ok := m.cached(key)
	if !ok {
		var err error
		if code, err = m.review(r.Context(), token, key); err != nil {
			m.log.Error(err, "Cannot check a metrics request's credentials", "path", key.path)
			http.Error(w, "Internal Server Error: cannot check the credentials", http.StatusInternalServerError)
			return
		}
		m.remember(key, code)
	}
	switch code {
	case http.StatusOK:
		m.next.ServeHTTP(w, r)
	case http.StatusUnauthorized:
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	default:
		http.Error(w, "Forbidden", http.StatusForbidden)
	}
}

// review asks the API server who the token is and whether they may make
// the request.
func (m *metricsAuth) review(ctx context.Context, token string, key authKey) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, authReviewTimeout)
	defer cancel()
	tr, err := m.api.reviewToken(ctx, token)
	if err != nil {
		return 0, err
	}
	if !tr.Status.Authenticated {
		return http.StatusUnauthorized, nil
	}
	u := tr.Status.User
	extra := make(map[string]authzv1.ExtraValue, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar, err := m.api.reviewAccess(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:                  u.Username,
		UID:                   u.UID,
		Groups:                u.Groups,
		Extra:                 extra,
		NonResourceAttributes: &authzv1.NonResourceAttributes{Path: key.path, Verb: key.verb},
	}})
	if err != nil {
		return 0, err
	}
	if !sar.Status.Allowed {
		m.log.V(1).Info("Metrics request refused", "user", u.Username, "path", key.path, "reason", sar.Status.Reason)
		return http.StatusForbidden, nil
	}
	return http.StatusOK, nil
}

func (m *metricsAuth) cached(key authKey) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.cache[key]
	if !ok || m.now().After(d.expires) {
		return 0, false
	}
	return d.code, true
}

func (m *metricsAuth) remember(key authKey, code int) {
	ttl := authDenyTTL
	if code == http.StatusOK {
		ttl = authAllowTTL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) >= authCacheMax {
		clear(m.cache)
	}
	m.cache[key] = authDecision{code: code, expires: m.now().Add(ttl)}
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
